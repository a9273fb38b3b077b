//! The report as text, for people.

use std::fmt;

use super::Report;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.sagas;
        let definition = match &self.direct {
            Some(d) => format!("orders placed at orders-svc, invoiced by {}", d.pattern),
            None => format!("definition {}", self.definition),
        };
        writeln!(
            f,
            "seed: {} on {} with {} orchestrator(s), {definition}",
            self.seed, self.backend, self.replicas
        )?;
        writeln!(
            f,
            "sagas: placed {} accepted {} (over the limit {}) listed {} | completed {} compensated {} failed {} unfinished {}",
            s.placed,
            s.accepted,
            s.over_limit,
            s.listed,
            s.completed,
            s.compensated,
            s.failed,
            s.unfinished
        )?;
        writeln!(
            f,
            "records: orders {} invoices issued {} voided {} | saga logs: {} retries, {} attempts resumed after a restart, {} parked retries, {} claims ({} handovers)",
            s.orders,
            s.invoices_issued,
            s.invoices_voided,
            s.retries,
            s.resumed_attempts,
            s.parked_retries,
            s.claims,
            s.handovers
        )?;
        if s.refused + s.reservations_held + s.reservations_released > 0 {
            writeln!(
                f,
                "stock: {} reservations refused by design | held {} released {}",
                s.refused, s.reservations_held, s.reservations_released
            )?;
        }
        if let Some(d) = &self.direct {
            let c = &self.load.changes;
            writeln!(
                f,
                "placed at orders-svc ({}): {} orders, confirmed {} ({} after an update) cancelled {} | events {:?} | {} invoice-order sagas",
                d.pattern,
                d.orders,
                d.confirmed,
                d.confirmed_updated,
                d.cancelled,
                d.events,
                d.sagas
            )?;
            writeln!(
                f,
                "changes: updated {} (too late {}) withdrawn {} (too late {})",
                c.updated, c.updates_too_late, c.withdrawn, c.withdrawals_too_late
            )?;
            writeln!(f, "feed taken (sweep or stream): {:?}", d.feed_takes)?;
            if let Some(b) = &d.broker {
                writeln!(f, "nats-server: killed {} paused {}", b.kills, b.pauses)?;
            }
        }
        let l = &self.load;
        writeln!(
            f,
            "clients: {} calls (PlaceOrder or StartSaga), transient errors {:?}, odd answers {}",
            l.calls,
            l.transient_errors,
            l.odd_answers.len()
        )?;
        if self.replicas > 1 {
            writeln!(
                f,
                "clients: answered by {:?}; {} repeats sent to another replica",
                l.answered_by, l.retried_elsewhere
            )?;
        }
        writeln!(f, "fault rules drawn: {:?}", self.faults.spec_rules)?;
        writeln!(f, "faults fired: {:?}", self.faults.fired)?;
        for (link, p) in &self.faults.proxies {
            writeln!(
                f,
                "proxy {link}: latency {} blackhole {} reset {} refuse {} windows; {} connections, {} reset, {} chunks delayed, {} found the participant down",
                p.latency_windows,
                p.blackhole_windows,
                p.reset_events,
                p.refuse_windows,
                p.connections,
                p.connections_reset,
                p.delayed_chunks,
                p.unreachable
            )?;
        }
        for (name, p) in &self.processes {
            writeln!(
                f,
                "process {name}: {} starts, {} kills, {} graceful stops, {} overlapping successions ({} under a new id), {} pauses, {} crashes, {} storage stalls, {} outages, {} unexpected exits",
                p.starts,
                p.kills,
                p.terms,
                p.overlaps,
                p.new_ids,
                p.pauses,
                p.crashes,
                p.storage_stalls,
                p.outages,
                p.unexpected_exits.len()
            )?;
        }
        let o = &self.ownership;
        for (name, r) in &o.by_replica {
            writeln!(
                f,
                "ownership {name}: accepted {} sagas, committed {} transitions, claimed {} sagas, {} writes fenced, {} taken back, {} store retries",
                r.accepted, r.transitions, r.claimed, r.fenced, r.taken_back, r.store_retries
            )?;
        }
        if self.replicas > 1 {
            writeln!(
                f,
                "takeovers: {} handovers between replicas over {} sagas",
                o.takeovers, o.sagas_taken_over
            )?;
        }
        let d = &self.connection_drops;
        if d.rounds > 0 {
            writeln!(
                f,
                "database connections cut: {} rounds, {} connections terminated, {} rounds failed",
                d.rounds, d.terminated, d.failed_rounds
            )?;
        }
        let r = &self.server_restarts;
        if r.restarts + r.failed + r.skipped > 0 {
            writeln!(
                f,
                "database server restarts: {} ({} failed, {} skipped while one was under way), away {} ms in all, longest {} ms",
                r.restarts, r.failed, r.skipped, r.total_ms, r.longest_ms
            )?;
        }
        let p = &self.database_proxy;
        if p.counts.connections > 0 {
            writeln!(
                f,
                "database proxy: in-doubt {} delay {} cut {} windows; {} connections, {} in-doubt commits ({} more refused by the server), {} chunks delayed, {} cut mid-transaction, {} found the server down, {} protocol errors, {} passed through unread",
                p.in_doubt_windows,
                p.delay_windows,
                p.cut_windows,
                p.counts.connections,
                p.counts.in_doubt_commits,
                p.counts.refused_commits_dropped,
                p.counts.delayed_chunks,
                p.counts.mid_transaction_cuts,
                p.counts.unreachable,
                p.counts.protocol_errors,
                p.counts.passed_through
            )?;
        }
        let v = &self.liveness;
        writeln!(
            f,
            "liveness: {} down {:.1}s, orchestrators used {:.2} CPU-s ({:.3}/s, busy above {}); last fault to last saga end {} ms; quiesced {} in {:.1}s, {} sagas unfinished past the bound of {:.1}s; longest stall while placing {:.1}s (limit {}s)",
            v.outage_of,
            v.outage_secs,
            v.orchestrator_cpu_secs,
            v.orchestrator_cpu_per_sec,
            v.busy_loop_threshold,
            v.last_fault_to_last_saga_ms,
            v.quiesced,
            v.quiesce_secs,
            v.unfinished_past_bound.len(),
            v.liveness_bound_secs,
            v.longest_stall_secs,
            v.stall_limit_secs
        )?;
        writeln!(
            f,
            "time: placing {:.1}s, total {:.1}s; folder {}{}",
            self.placing_secs,
            self.total_secs,
            self.dir,
            if self.kept_dir { " (kept)" } else { "" }
        )?;
        for (name, errors) in self.service_errors.iter().filter(|(_, e)| e.count > 0) {
            writeln!(f, "{name} logged {} ERROR lines, e.g.:", errors.count)?;
            for sample in &errors.samples {
                writeln!(f, "    {sample}")?;
            }
        }
        writeln!(f, "violations: {}", self.violations.len())?;
        for violation in &self.violations {
            writeln!(f, "  - {violation}")?;
        }
        if !self.passed() {
            writeln!(f, "replay: {}", self.replay)?;
        }
        Ok(())
    }
}

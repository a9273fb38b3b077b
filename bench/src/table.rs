//! The report as a table for people: one column per phase, then the saga log's cost and
//! the invariant check's verdict.

use std::fmt::Write as _;

use crate::config::Pace;
use crate::latency::Latency;
use crate::outcome::Outcomes;
use crate::report::{Phase, Report};

impl Report {
    /// The report as a table for people.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "saga-bench run {}: {}", self.run_id, self.setting());
        let floor = self.floor.as_ref();
        let ratio = self.saga_over_direct;
        let mut rows = Rows::default();
        rows.header("", "saga", "direct (floor)", "saga/direct");
        rows.add(
            "sagas/s",
            format!("{:.1}", self.saga.sagas_per_s),
            floor.map(|f| format!("{:.1}", f.sagas_per_s)),
            ratio.map(|r| format!("{:.2}", r.throughput)),
        );
        rows.add(
            "ended / calls",
            format!("{} / {}", self.saga.ended, self.saga.calls),
            floor.map(|f| format!("{} / {}", f.ended, f.calls)),
            None,
        );
        type Pick = fn(&Latency) -> f64;
        let percentiles: [(&str, Pick); 5] = [
            ("latency p50 ms", |l| l.p50_ms),
            ("latency p90 ms", |l| l.p90_ms),
            ("latency p99 ms", |l| l.p99_ms),
            ("latency p99.9 ms", |l| l.p99_9_ms),
            ("latency max ms", |l| l.max_ms),
        ];
        for (label, pick) in percentiles {
            let cell = |phase: &Phase| format!("{:.2}", pick(&phase.latency));
            let ratio = match label {
                "latency p50 ms" => ratio.map(|r| format!("{:.2}", r.p50_latency)),
                "latency p99 ms" => ratio.map(|r| format!("{:.2}", r.p99_latency)),
                _ => None,
            };
            rows.add(label, cell(&self.saga), floor.map(cell), ratio);
        }
        if self.saga.error_latency.count > 0 {
            let cell = |p: &Phase| {
                let l = &p.error_latency;
                format!("{} · {:.2} / {:.2}", l.count, l.p50_ms, l.p99_ms)
            };
            rows.add(
                "failed calls · p50 / p99 ms",
                cell(&self.saga),
                floor.map(cell),
                None,
            );
        }
        for name in self.saga.cpu_s_per_saga.keys() {
            let cell = |p: &Phase| p.cpu_s_per_saga.get(name).map(|s| format!("{:.6}", s));
            let label = format!("cpu s/saga {name}");
            rows.add(
                &label,
                cell(&self.saga).unwrap_or_default(),
                floor.and_then(cell),
                None,
            );
        }
        rows.add(
            "cpu s/saga, all",
            format!("{:.6}", self.saga.cpu_s_per_saga_all()),
            floor.map(|f| format!("{:.6}", f.cpu_s_per_saga_all())),
            None,
        );
        for name in self.saga.disk_write_bytes_per_saga.keys() {
            let cell = |p: &Phase| {
                p.disk_write_bytes_per_saga
                    .get(name)
                    .map(|b| format!("{b:.0}"))
            };
            let label = format!("disk B/saga {name}");
            rows.add(
                &label,
                cell(&self.saga).unwrap_or_default(),
                floor.and_then(cell),
                None,
            );
        }
        for name in self.saga.peak_rss_mib.keys() {
            let cell = |p: &Phase| p.peak_rss_mib.get(name).map(|m| format!("{m:.1}"));
            rows.add(
                &format!("peak RSS MiB {name}"),
                cell(&self.saga).unwrap_or_default(),
                floor.and_then(cell),
                None,
            );
        }
        let busy = |p: &Phase| {
            p.machine_busy_cpus
                .map(|c| format!("{c:.2}"))
                .unwrap_or_default()
        };
        rows.add("machine busy cpus", busy(&self.saga), floor.map(busy), None);
        rows.add(
            "outcomes",
            outcomes(&self.saga.outcomes),
            floor.map(|f| outcomes(&f.outcomes)),
            None,
        );
        out.push_str(&rows.render());
        out.push_str(&self.footer());
        out
    }

    fn setting(&self) -> String {
        let pace = match self.pace {
            Pace::Closed { concurrency } => format!("closed loop at concurrency {concurrency}"),
            Pace::Open {
                rate,
                max_in_flight,
            } => {
                format!("open loop at {rate}/s (at most {max_in_flight} in flight)")
            }
        };
        let bound = match (self.bound.sagas, self.bound.duration) {
            (Some(n), Some(s)) => format!("{n} sagas or {s} s"),
            (Some(n), None) => format!("{n} sagas"),
            (None, Some(s)) => format!("{s} s"),
            (None, None) => "unbounded".to_string(),
        };
        let faults = if self.faults.is_empty() {
            "none"
        } else {
            &self.faults
        };
        let replicas = match self.replicas {
            1 => String::new(),
            n => format!(", {n} orchestrator replicas"),
        };
        let sync = self
            .sqlite_sync
            .map(|s| format!(", synchronous={s}"))
            .unwrap_or_default();
        format!(
            "{} stack ({}{sync}{replicas}), {pace}, {bound}, {:.0}% compensating, {} connections, \
             faults: {faults}",
            self.stack,
            self.backend,
            self.compensate_share * 100.0,
            self.connections
        )
    }

    fn footer(&self) -> String {
        let mut out = String::new();
        let log = &self.saga_log;
        let num = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
        let _ = writeln!(
            out,
            "saga log: {} records/saga (completed {}, compensated {}) over {} sagas read back; \
             db growth {} B/saga{}",
            num(log.records_per_saga),
            num(log.records_per_completed_saga),
            num(log.records_per_compensated_saga),
            log.sagas_read,
            num(log.db_growth_bytes_per_saga),
            log.wal_bytes_per_saga
                .map(|b| format!("; server WAL {b:.0} B/saga"))
                .unwrap_or_default(),
        );
        let v = &self.invariants;
        let f = &v.floor_records;
        let _ = writeln!(
            out,
            "invariants: {} ({} sagas, {} orders, {} invoices checked in {:.1} s; floor records \
             left out: orders {} confirmed, {} cancelled, {} pending; invoices {} issued, {} voided)",
            if v.passed { "passed" } else { "VIOLATED" },
            v.sagas,
            v.orders,
            v.invoices,
            v.elapsed_s,
            f.orders_confirmed,
            f.orders_cancelled,
            f.orders_pending,
            f.invoices_issued,
            f.invoices_voided
        );
        for violation in &v.violations {
            let _ = writeln!(out, "  {violation}");
        }
        if v.violation_count > v.violations.len() {
            let _ = writeln!(
                out,
                "  … and {} more",
                v.violation_count - v.violations.len()
            );
        }
        out
    }
}

fn outcomes(o: &Outcomes) -> String {
    let mut parts = vec![
        format!("{} ok", o.completed),
        format!("{} comp", o.compensated),
    ];
    if o.failed > 0 {
        parts.push(format!("{} FAILED", o.failed));
    }
    for (status, n) in o.unfinished.iter().chain(&o.errors) {
        parts.push(format!("{n} {status}"));
    }
    parts.join(", ")
}

/// A four-column text table.
#[derive(Debug, Default)]
struct Rows(Vec<[String; 4]>);

impl Rows {
    fn header(&mut self, a: &str, b: &str, c: &str, d: &str) {
        self.0.push([a, b, c, d].map(str::to_string));
    }

    fn add(&mut self, label: &str, saga: String, floor: Option<String>, ratio: Option<String>) {
        self.0.push([
            label.to_string(),
            saga,
            floor.unwrap_or_else(|| "-".into()),
            ratio.unwrap_or_default(),
        ]);
    }

    fn render(&self) -> String {
        let width = |i: usize| {
            self.0
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths = [width(0), width(1), width(2), width(3)];
        let mut out = String::new();
        for row in &self.0 {
            let line = format!(
                "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn columns_are_aligned_and_blank_cells_dropped_at_the_end() {
        let mut rows = Rows::default();
        rows.header("", "saga", "direct (floor)", "saga/direct");
        rows.add(
            "sagas/s",
            "812.3".into(),
            Some("2301.0".into()),
            Some("0.35".into()),
        );
        rows.add("latency p90 ms", "12.00".into(), None, None);
        assert_eq!(
            rows.render(),
            "                 saga  direct (floor)  saga/direct\n\
             sagas/s         812.3          2301.0         0.35\n\
             latency p90 ms  12.00               -\n"
        );
    }

    #[test]
    fn outcomes_name_only_what_happened_beyond_the_usual_two() {
        let usual = Outcomes {
            completed: 9,
            compensated: 1,
            ..Outcomes::default()
        };
        assert_eq!(outcomes(&usual), "9 ok, 1 comp");
        let odd = Outcomes {
            failed: 2,
            errors: BTreeMap::from([("DeadlineExceeded".to_string(), 3)]),
            ..usual
        };
        assert_eq!(outcomes(&odd), "9 ok, 1 comp, 2 FAILED, 3 DeadlineExceeded");
    }
}

//! The `saga-chaos` command line that replays a campaign from its settings.

use super::{ChaosConfig, Flow};
use crate::backend::Backend;
use crate::pattern::Pattern;

impl ChaosConfig {
    /// The `saga-chaos` command that replays this campaign (a PostgreSQL server is
    /// named by `SAGA_TEST_POSTGRES_URL` or `--postgres-url`, and its data folder by
    /// `SAGA_TEST_POSTGRES_DATA` or `--postgres-data`, left out here).
    pub fn replay_command(&self) -> String {
        let o = &self.orchestrator;
        let list = |replicas: &[u32]| -> String {
            replicas
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut backend = format!("--backend {}", self.backend.name());
        if self.backend != Backend::Sqlite {
            backend.push_str(&format!(
                " --replicas {} --connection-drop-interval-ms {} --server-restart-interval-ms {} \
                 --pg-fault-interval-ms {} --pg-in-doubt-probability {} --overlap-interval-ms {}",
                self.replicas,
                self.connection_drop_interval.as_millis(),
                self.schedule().server_restart_interval.as_millis(),
                self.pg_fault_interval.as_millis(),
                self.in_doubt_probability,
                self.overlap_interval.as_millis()
            ));
        }
        if !self.killed_replicas.is_empty() {
            backend.push_str(&format!(
                " --killed-replicas {}",
                list(&self.killed_replicas)
            ));
        }
        if !self.paused_replicas.is_empty() {
            backend.push_str(&format!(
                " --paused-replicas {}",
                list(&self.paused_replicas)
            ));
        }
        if let Some(lease_ms) = o.lease_ms {
            backend.push_str(&format!(" --lease-ms {lease_ms}"));
        }
        if self.flow != Flow::PlaceOrder {
            backend.push_str(&format!(
                " --definition {} --refused-share {}",
                self.flow.name(),
                self.refused_share
            ));
        }
        if self.pattern.direct() {
            backend.push_str(&format!(
                " --pattern {} --update-share {} --withdraw-share {}",
                self.pattern.name(),
                self.update_share,
                self.withdraw_share
            ));
        }
        if self.pattern == Pattern::EventsNats {
            backend.push_str(&format!(
                " --broker-interval-ms {}",
                self.broker_interval.as_millis()
            ));
        }
        format!(
            "saga-chaos {backend} --seed {} --client-timeout-ms {} --sagas {} --duration {} --concurrency {} --over-limit-share {} \
             --wait-ms {} --think-ms {} --kill-interval-ms {} --term-share {} --pause-interval-ms {} --proxy-interval-ms {} --lock-interval-ms {} \
             --fault-intensity {} --outage-ms {} --probe-sagas {} --stall-limit-secs {} --call-timeout-ms {} \
             --max-attempts {} --retry-base-ms {} --retry-max-ms {} --parked-retry-ms {}{}{}",
            self.seed,
            self.call_timeout.as_millis(),
            self.sagas,
            self.duration.as_secs_f64(),
            self.concurrency,
            self.over_limit_share,
            self.wait_ms,
            self.think.as_millis(),
            self.kill_interval.as_millis(),
            self.term_share,
            self.pause_interval.as_millis(),
            self.proxy_interval.as_millis(),
            self.lock_interval.as_millis(),
            self.fault_intensity,
            self.outage.as_millis(),
            self.probe_sagas,
            self.stall_limit.as_secs_f64(),
            o.call_timeout_ms,
            o.max_attempts,
            o.retry_base_ms,
            o.retry_max_ms,
            o.parked_retry_ms,
            if o.same_seed_every_start {
                " --same-orchestrator-seed"
            } else {
                ""
            },
            o.extra_args
                .iter()
                .map(|a| format!(" --orchestrator-arg={a}"))
                .collect::<String>(),
        )
    }
}

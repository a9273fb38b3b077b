//! The windows of the proxy on the PostgreSQL protocol: in-doubt commits, replies held
//! past the clients' timeouts, and cuts in the middle of a transaction, one kind after
//! the other (from a random first), never overlapping.

use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;

use super::{Action, PgFault, Schedule, Timed, gap, millis};

/// Windows in which each `COMMIT` may be made in doubt.
const IN_DOUBT_WINDOW_MS: (u64, u64) = (500, 3_000);
/// Windows of delayed replies, and how long each chunk is held: past the orchestrator's
/// call timeout always, past the clients' PlaceOrder deadline sometimes; short windows,
/// since every service waits meanwhile.
const DELAY_WINDOW_MS: (u64, u64) = (200, 1_500);
const REPLY_DELAY_MS: (u64, u64) = (1_000, 5_000);
/// Windows in which a statement inside a transaction may be the last of its connection.
const CUT_WINDOW_MS: (u64, u64) = (300, 2_000);

/// The database proxy's windows at random gaps around the schedule's interval (none if
/// it is zero).
pub(super) fn database_proxy_incidents(rng: &mut StdRng, s: &Schedule, out: &mut Vec<Timed>) {
    if s.pg_fault_interval.is_zero() {
        return;
    }
    let mut kind: u8 = rng.random_range(0..3);
    let mut at = gap(rng, s.pg_fault_interval);
    while at < s.duration {
        let (fault, length) = match kind {
            0 => (PgFault::InDoubtCommits, millis(rng, IN_DOUBT_WINDOW_MS)),
            1 => (
                PgFault::DelayedReplies(millis(rng, REPLY_DELAY_MS)),
                millis(rng, DELAY_WINDOW_MS),
            ),
            _ => (PgFault::CutsMidTransaction, millis(rng, CUT_WINDOW_MS)),
        };
        out.push(Timed {
            at,
            action: Action::DatabaseProxy(fault, length),
        });
        out.push(Timed {
            at: at + length,
            action: Action::DatabaseProxy(PgFault::Clean, Duration::ZERO),
        });
        kind = (kind + 1) % 3;
        at += length + gap(rng, s.pg_fault_interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;
    use crate::chaos::ChaosConfig;
    use crate::chaos::plan::Plan;

    fn schedule(pg_fault_interval: Duration) -> Schedule {
        Schedule {
            kill_interval: Duration::from_secs(4),
            proxy_interval: Duration::from_secs(3),
            connection_drop_interval: Duration::from_secs(2),
            server_restart_interval: Duration::from_secs(10),
            pg_fault_interval,
            ..Schedule::quiet(Duration::from_secs(60))
        }
    }

    fn windows(plan: &Plan) -> Vec<(Duration, PgFault)> {
        plan.actions
            .iter()
            .filter_map(|t| match t.action {
                Action::DatabaseProxy(fault, _) => Some((t.at, fault)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_kind_of_window_opens_and_each_closes_before_the_next() {
        let plan = Plan::generate(3, &schedule(Duration::from_secs(2)));
        let windows = windows(&plan);
        let kinds: Vec<u8> = windows
            .chunks(2)
            .map(|pair| match pair {
                [(_, PgFault::InDoubtCommits), (_, PgFault::Clean)] => 0,
                [(_, PgFault::DelayedReplies(_)), (_, PgFault::Clean)] => 1,
                [(_, PgFault::CutsMidTransaction), (_, PgFault::Clean)] => 2,
                other => panic!("not a window: {other:?}"),
            })
            .collect();
        for kind in 0..3 {
            assert!(kinds.contains(&kind), "kind {kind} in {kinds:?}");
        }
        assert!(windows.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn the_windows_are_drawn_last_so_a_seed_replays_every_other_incident() {
        let without = Plan::generate(9, &schedule(Duration::ZERO));
        let with = Plan::generate(9, &schedule(Duration::from_secs(3)));
        assert!(windows(&without).is_empty());
        let others: Vec<Timed> = with
            .actions
            .iter()
            .copied()
            .filter(|t| !matches!(t.action, Action::DatabaseProxy(..)))
            .collect();
        assert_eq!(others, without.actions);
    }

    #[test]
    fn only_postgresql_campaigns_have_database_proxy_windows() {
        let on = |backend: Backend| {
            ChaosConfig {
                backend,
                ..ChaosConfig::new(1)
            }
            .schedule()
            .pg_fault_interval
        };
        let postgres = Backend::Postgres {
            server_url: "postgres://u@h/db".into(),
        };
        assert_eq!(
            [on(Backend::Sqlite), on(postgres)],
            [Duration::ZERO, crate::chaos::PG_FAULT_INTERVAL]
        );
    }
}

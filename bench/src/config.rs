//! The benchmark's flags, and the run plan they resolve to.

use std::time::Duration;

use anyhow::{Result, bail};
use clap::Parser;
use serde::Serialize;

pub use crate::storage::{Backend, SqliteSync};
pub use saga_tests::chaos::Flow;

/// The flags of one run (see `Cli` in main.rs for the whole command line).
#[derive(Debug, Clone, Parser)]
pub struct Config {
    /// Closed loop: this many calls in flight at all times (ignored with --rate).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,
    /// Open loop: start this many sagas per second whatever the answers; latency counts
    /// from each call's scheduled start, so queueing shows.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open loop: at most this many calls in flight; past it, sends wait (and their
    /// latency grows from the schedule).
    #[arg(long, default_value_t = 10_000)]
    pub max_in_flight: usize,
    /// Stop after this many sagas (default 1000 when --duration is not given either).
    #[arg(long)]
    pub sagas: Option<u64>,
    /// Stop starting new sagas after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Share of orders over the invoice limit, which must compensate (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub compensate_share: f64,
    /// Fault spec passed to both participants (`Method:kind:probability,…`); name the
    /// methods, not `*`, so that the final check's reads are never faulted. Only for a
    /// stack started here (give a running stack's services their own `--faults`).
    #[arg(long, default_value = "", conflicts_with = "url")]
    pub faults: String,
    /// Seed of the participants' fault draws and the orchestrator's jitter.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Measure the direct-call floor too (the default).
    #[arg(long, overrides_with = "no_floor")]
    pub floor: bool,
    /// Skip the direct-call floor.
    #[arg(long, overrides_with = "floor")]
    pub no_floor: bool,
    /// A running orchestrator (`http://127.0.0.1:PORT`); default: start the stack here.
    #[arg(long, requires_all = ["orders_url", "invoices_url"])]
    pub url: Option<String>,
    /// The running stack's orders-svc (with --url).
    #[arg(long, requires = "url")]
    pub orders_url: Option<String>,
    /// The running stack's invoices-svc (with --url).
    #[arg(long, requires = "url")]
    pub invoices_url: Option<String>,
    /// The running orchestrator's SQLite file, to measure its growth (with --url).
    #[arg(long, requires = "url")]
    pub orchestrator_db: Option<std::path::PathBuf>,
    /// Where the started stack keeps its saga log (and the participants their records).
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// The PostgreSQL server of `--backend postgres`: the URL of any database there whose
    /// user may CREATE DATABASE. Each run creates fresh databases on it and drops them
    /// at the end.
    #[arg(long, env = "SAGA_TEST_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    /// SQLite's `synchronous` setting of a started stack: `full` (an fsync per commit, the
    /// services' default) or `normal` (none: a power loss may lose the last commits).
    #[arg(long, value_enum, default_value_t = SqliteSync::Full)]
    pub sqlite_sync: SqliteSync,
    /// Orchestrator processes on the one PostgreSQL database, each with its own
    /// `--replica-id`; call n goes to replica n modulo N.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub replicas: u32,
    /// HTTP/2 connections to each service, shared round-robin by the calls; a started
    /// orchestrator opens as many to each participant, so saga and floor match.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub connections: u32,
    /// Deadline of one PlaceOrder call (it waits for the whole saga).
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
    /// Deadline of one participant call, of the floor's and (for a started stack) of the
    /// orchestrator's.
    #[arg(long, default_value_t = 2_000)]
    pub call_timeout_ms: u64,
    /// How long sagas may take to end after the load stops before the run fails.
    #[arg(long, default_value_t = 120)]
    pub settle_secs: u64,
    /// Which saga: `place-order` (the built-in, by PlaceOrder) or `order-with-stock` (the
    /// four-step example over inventory-svc, by StartSaga; a started SQLite stack, no
    /// floor).
    #[arg(long, value_enum, default_value_t = Flow::PlaceOrder)]
    pub definition: Flow,
    /// Every service serves its metrics (`--http-listen` on a free port), to measure
    /// what recording them costs.
    #[arg(long)]
    pub metrics: bool,
    /// Every service exports its traces (`--otlp-endpoint`) to a collector in this
    /// process, to measure what tracing costs.
    #[arg(long)]
    pub traces: bool,
    /// One more flag for every orchestrator started here, as `--name=value` (repeat it),
    /// e.g. `--orchestrator-flag=--max-working-sagas=64`.
    #[arg(
        long = "orchestrator-flag",
        value_name = "FLAG",
        allow_hyphen_values = true
    )]
    pub orchestrator_flags: Vec<String>,
    /// Print the final report as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// How calls are paced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pace {
    /// `concurrency` calls in flight; each starts when one ends.
    Closed { concurrency: u32 },
    /// `rate` calls per second on a fixed schedule, at most `max_in_flight` at once.
    Open { rate: f64, max_in_flight: usize },
}

/// When a phase stops starting calls: after `sagas` calls or `duration`, whichever first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bound {
    pub sagas: Option<u64>,
    #[serde(rename = "duration_s")]
    pub duration: Option<f64>,
}

impl Bound {
    /// The duration as a `Duration`, if one was given.
    pub fn time(&self) -> Option<Duration> {
        self.duration.map(Duration::from_secs_f64)
    }
}

/// Default number of sagas when neither a count nor a duration is given.
const DEFAULT_SAGAS: u64 = 1_000;

impl Config {
    /// Checks the flags that clap cannot check alone.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.compensate_share) {
            bail!("--compensate-share must be within 0 and 1");
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            bail!("--rate must be a positive number of sagas per second");
        }
        if let Some(duration) = self.duration
            && !(duration.is_finite() && duration > 0.0)
        {
            bail!("--duration must be a positive number of seconds");
        }
        if self.max_in_flight == 0 {
            bail!("--max-in-flight must be at least 1");
        }
        if self.url.is_none() {
            if self.backend == Backend::Postgres && self.postgres_url.is_none() {
                bail!("--backend postgres needs --postgres-url (or SAGA_TEST_POSTGRES_URL)");
            }
            if self.replicas > 1 && self.backend != Backend::Postgres {
                bail!("--replicas above 1 needs --backend postgres (replicas share its database)");
            }
            if self.sqlite_sync != SqliteSync::Full && self.backend != Backend::Sqlite {
                bail!("--sqlite-sync is for --backend sqlite");
            }
        } else if self.replicas > 1 || self.sqlite_sync != SqliteSync::Full {
            bail!("--replicas and --sqlite-sync set up a started stack, not a running one");
        }
        if self.definition == Flow::OrderWithStock
            && (self.url.is_some() || self.backend != Backend::Sqlite)
        {
            bail!("--definition order-with-stock runs on a started SQLite stack");
        }
        Ok(())
    }

    /// The pacing the flags ask for.
    pub fn pace(&self) -> Pace {
        match self.rate {
            Some(rate) => Pace::Open {
                rate,
                max_in_flight: self.max_in_flight,
            },
            None => Pace::Closed {
                concurrency: self.concurrency,
            },
        }
    }

    /// When each phase stops.
    pub fn bound(&self) -> Bound {
        let sagas = match (self.sagas, self.duration) {
            (None, None) => Some(DEFAULT_SAGAS),
            (sagas, _) => sagas,
        };
        Bound {
            sagas,
            duration: self.duration,
        }
    }

    /// Whether to measure the direct-call floor.
    pub fn measure_floor(&self) -> bool {
        !self.no_floor && self.definition == Flow::PlaceOrder
    }

    /// Deadline of a PlaceOrder call.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Deadline of a participant call.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        let mut all = vec!["saga-bench"];
        all.extend(args);
        Config::try_parse_from(all).expect("flags parse")
    }

    #[test]
    fn without_bounds_a_run_places_a_thousand_sagas() {
        assert_eq!(
            parse(&[]).bound(),
            Bound {
                sagas: Some(1_000),
                duration: None
            }
        );
    }

    #[test]
    fn a_duration_alone_has_no_count() {
        assert_eq!(
            parse(&["--duration", "2.5"]).bound(),
            Bound {
                sagas: None,
                duration: Some(2.5)
            }
        );
    }

    #[test]
    fn a_rate_makes_the_loop_open() {
        assert_eq!(
            parse(&["--rate", "200", "--concurrency", "3"]).pace(),
            Pace::Open {
                rate: 200.0,
                max_in_flight: 10_000
            }
        );
        assert_eq!(
            parse(&["--concurrency", "3"]).pace(),
            Pace::Closed { concurrency: 3 }
        );
    }

    #[test]
    fn the_floor_is_on_unless_skipped() {
        assert!(parse(&[]).measure_floor());
        assert!(parse(&["--floor"]).measure_floor());
        assert!(!parse(&["--no-floor"]).measure_floor());
        assert!(parse(&["--no-floor", "--floor"]).measure_floor());
    }

    #[test]
    fn a_running_stack_needs_all_three_urls() {
        let partial = ["saga-bench", "--url", "http://127.0.0.1:50051"];
        assert!(Config::try_parse_from(partial).is_err());
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for args in [
            &["--compensate-share", "1.5"][..],
            &["--rate", "0"],
            &["--duration=-1"],
        ] {
            assert!(parse(args).validate().is_err(), "{args:?}");
        }
        assert!(parse(&["--compensate-share", "0.1"]).validate().is_ok());
    }

    #[test]
    fn replicas_need_postgres_and_sqlite_sync_needs_sqlite() {
        let server = "postgres://u@127.0.0.1:5432/postgres";
        for args in [
            &["--replicas", "2"][..],
            &["--replicas", "2", "--postgres-url", server],
            &[
                "--backend",
                "postgres",
                "--postgres-url",
                server,
                "--sqlite-sync",
                "normal",
            ],
        ] {
            assert!(parse(args).validate().is_err(), "{args:?}");
        }
        let postgres = ["--backend", "postgres", "--replicas", "4"];
        let mut args = postgres.to_vec();
        args.extend(["--postgres-url", server]);
        assert!(parse(&args).validate().is_ok());
    }
}

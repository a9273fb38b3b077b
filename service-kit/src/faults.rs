//! Failure injection, a feature of the participant services (`--faults SPEC`).
//!
//! A spec is `Method:kind:probability` rules separated by commas (or lines, in a file), e.g.
//! `CreateInvoice:unavailable:0.3,*:delay=200:0.1`. `Method` is the RPC name or `*`.
//! Kinds: `unavailable` (answer UNAVAILABLE, do nothing), `ambiguous` (commit the effect,
//! then answer UNAVAILABLE), `refuse` (answer FAILED_PRECONDITION, do nothing: a definite
//! "no"), `delay=MS` (wait, then proceed), `crash` (exit the process at once, before
//! committing), `duplicate` (send the effect twice, the copy as a new message: only the
//! outbox relay sends messages, an RPC proceeds as without a fault). Rules are tried in
//! order; the first that fires wins. The rules can be replaced while the service runs
//! ([`Faults::replace`]: a participant given `--faults @FILE` reads the file again on
//! SIGHUP), so a test can end an outage it injected.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tonic::Status;

use crate::metrics::{FAULTS, REQUESTS};

/// Exit code of a process that crashed on purpose.
pub const CRASH_EXIT_CODE: i32 = 86;

/// What an injected fault does to one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultKind {
    Unavailable,
    Ambiguous,
    Refuse,
    Delay(Duration),
    Crash,
    Duplicate,
}

impl FaultKind {
    /// The kind as a spec names it (`delay` without its time).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Unavailable => "unavailable",
            FaultKind::Ambiguous => "ambiguous",
            FaultKind::Refuse => "refuse",
            FaultKind::Delay(_) => "delay",
            FaultKind::Crash => "crash",
            FaultKind::Duplicate => "duplicate",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    method: String,
    kind: FaultKind,
    probability: f64,
}

/// A fault spec that could not be parsed; the message names the offending rule.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "invalid fault rule {rule:?}: {reason} (expected Method:kind:probability, kind one of unavailable, ambiguous, refuse, delay=MS, crash, duplicate)"
)]
pub struct FaultSpecError {
    rule: String,
    reason: &'static str,
}

/// The faults a service injects, with a seeded source so a run can be replayed.
#[derive(Debug)]
pub struct Faults {
    draws: Mutex<Draws>,
}

/// The rules in force and the source of their draws.
#[derive(Debug)]
struct Draws {
    rules: Vec<Rule>,
    rng: StdRng,
}

impl Faults {
    /// Parses `spec` (empty: no faults). `seed` fixes the random draws.
    pub fn parse(spec: &str, seed: u64) -> Result<Self, FaultSpecError> {
        Ok(Self {
            draws: Mutex::new(Draws {
                rules: parse_rules(spec)?,
                rng: StdRng::seed_from_u64(seed),
            }),
        })
    }

    /// No faults at all.
    pub fn none() -> Self {
        Self {
            draws: Mutex::new(Draws {
                rules: Vec::new(),
                rng: StdRng::seed_from_u64(0),
            }),
        }
    }

    /// Puts the rules of `spec` in force from the next call on (the draws go on from
    /// the same seeded source); a spec that does not parse changes nothing.
    pub fn replace(&self, spec: &str) -> Result<(), FaultSpecError> {
        let rules = parse_rules(spec)?;
        self.lock().rules = rules;
        Ok(())
    }

    /// Draws the fault, if any, for one call of `method`.
    pub fn draw(&self, method: &str) -> Option<FaultKind> {
        let mut draws = self.lock();
        let Draws { rules, rng } = &mut *draws;
        rules
            .iter()
            .filter(|r| r.method == "*" || r.method == method)
            .find(|rule| rng.random_bool(rule.probability))
            .map(|rule| rule.kind)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Draws> {
        self.draws
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `effect` (the whole RPC, including its commit) under the fault drawn for
    /// `method`; every participant RPC goes through here, so it is also where each is
    /// counted (`participant_requests_total` by method and code, and the faults injected).
    pub async fn around<T, F>(&self, method: &str, effect: F) -> Result<T, Status>
    where
        F: Future<Output = Result<T, Status>>,
    {
        let answer = self.inject(method, effect).await;
        if crate::http::recording() {
            let code = answer
                .as_ref()
                .map_or_else(Status::code, |_| tonic::Code::Ok);
            let code = crate::metrics::code_name(code);
            metrics::counter!(REQUESTS, "method" => method.to_string(), "code" => code)
                .increment(1);
        }
        answer
    }

    async fn inject<T, F>(&self, method: &str, effect: F) -> Result<T, Status>
    where
        F: Future<Output = Result<T, Status>>,
    {
        let fault = self.draw(method);
        if let Some(kind) = fault {
            let kind = kind.name();
            metrics::counter!(FAULTS, "method" => method.to_string(), "kind" => kind).increment(1);
        }
        match fault {
            None | Some(FaultKind::Duplicate) => effect.await,
            Some(FaultKind::Unavailable) => {
                tracing::warn!(method, "injected fault: unavailable");
                Err(Status::unavailable("injected fault: unavailable"))
            }
            Some(FaultKind::Ambiguous) => {
                let result = effect.await;
                tracing::warn!(method, ok = result.is_ok(), "injected fault: ambiguous");
                result.and(Err(Status::unavailable("injected fault: ambiguous")))
            }
            Some(FaultKind::Refuse) => {
                tracing::warn!(method, "injected fault: refuse");
                Err(Status::failed_precondition("injected fault: refused"))
            }
            Some(FaultKind::Delay(delay)) => {
                tokio::time::sleep(delay).await;
                effect.await
            }
            Some(FaultKind::Crash) => {
                tracing::warn!(method, "injected fault: crash");
                std::process::exit(CRASH_EXIT_CODE)
            }
        }
    }
}

fn parse_rules(spec: &str) -> Result<Vec<Rule>, FaultSpecError> {
    spec.split([',', '\n'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(parse_rule)
        .collect()
}

fn parse_rule(rule: &str) -> Result<Rule, FaultSpecError> {
    let error = |reason| FaultSpecError {
        rule: rule.to_string(),
        reason,
    };
    let mut parts = rule.split(':');
    let (Some(method), Some(kind), Some(probability), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(error("it needs exactly three parts"));
    };
    if method.is_empty() {
        return Err(error("the method is empty"));
    }
    let kind = match kind {
        "unavailable" => FaultKind::Unavailable,
        "ambiguous" => FaultKind::Ambiguous,
        "refuse" => FaultKind::Refuse,
        "crash" => FaultKind::Crash,
        "duplicate" => FaultKind::Duplicate,
        other => match other.strip_prefix("delay=").map(str::parse::<u64>) {
            Some(Ok(ms)) => FaultKind::Delay(Duration::from_millis(ms)),
            Some(Err(_)) => return Err(error("the delay is not a whole number of milliseconds")),
            None => return Err(error("unknown kind")),
        },
    };
    let probability = probability
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| error("the probability is not a number from 0 to 1"))?;
    Ok(Rule {
        method: method.to_string(),
        kind,
        probability,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_wildcards() {
        let faults = Faults::parse(
            "CreateOrder:unavailable:1, *:delay=25:0.5,A:ambiguous:0,B:crash:1,C:duplicate:1,D:refuse:1",
            1,
        )
        .expect("valid spec");
        let kinds: Vec<_> = faults.lock().rules.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            vec![
                FaultKind::Unavailable,
                FaultKind::Delay(Duration::from_millis(25)),
                FaultKind::Ambiguous,
                FaultKind::Crash,
                FaultKind::Duplicate,
                FaultKind::Refuse,
            ]
        );
        assert_eq!(faults.draw("CreateOrder"), Some(FaultKind::Unavailable));
    }

    #[test]
    fn rejects_malformed_rules_naming_them() {
        for bad in [
            "X",
            "X:unavailable",
            "X:boom:0.1",
            "X:delay=abc:0.1",
            "X:crash:2",
            ":crash:1",
            "X:crash:1:1",
        ] {
            let err = Faults::parse(bad, 0).expect_err(bad);
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn rules_may_stand_one_per_line() {
        let faults = Faults::parse("A:refuse:1\nB:unavailable:1\n", 0).expect("valid");
        assert_eq!(faults.draw("B"), Some(FaultKind::Unavailable));
    }

    #[test]
    fn an_empty_spec_injects_nothing() {
        let faults = Faults::parse("", 0).expect("empty spec");
        assert_eq!(faults.draw("CreateOrder"), None);
    }

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let draws = |seed| {
            let f = Faults::parse("*:unavailable:0.5", seed).expect("valid");
            (0..64).map(|_| f.draw("M").is_some()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
    }

    /// Runs one call of `M` under `spec`: whether its effect ran, and the code it answered.
    async fn one_call(spec: &str) -> (bool, Result<(), tonic::Code>) {
        let faults = Faults::parse(spec, 0).expect("valid");
        let mut committed = false;
        let result = faults
            .around("M", async {
                committed = true;
                Ok::<_, Status>(())
            })
            .await;
        (committed, result.map_err(|s| s.code()))
    }

    #[tokio::test]
    async fn ambiguous_commits_then_reports_unavailable() {
        let unavailable = Err(tonic::Code::Unavailable);
        assert_eq!(one_call("M:ambiguous:1").await, (true, unavailable));
    }

    #[tokio::test]
    async fn unavailable_and_refuse_do_nothing() {
        let unavailable = Err(tonic::Code::Unavailable);
        assert_eq!(one_call("M:unavailable:1").await, (false, unavailable));
        let refused = Err(tonic::Code::FailedPrecondition);
        assert_eq!(one_call("M:refuse:1").await, (false, refused));
    }

    #[test]
    fn replaced_rules_are_in_force_from_the_next_draw_and_a_bad_spec_changes_nothing() {
        let faults = Faults::parse("M:refuse:1", 0).expect("valid");
        assert_eq!(faults.draw("M"), Some(FaultKind::Refuse));
        assert!(faults.replace("M:boom:1").is_err());
        assert_eq!(faults.draw("M"), Some(FaultKind::Refuse));
        faults.replace("").expect("an empty spec");
        assert_eq!(faults.draw("M"), None);
    }
}

//! What the relay's injected faults do (`--faults` rules on the pseudo-method
//! `RelayPublish`, drawn per event), so the chaos runner can prove the consumers
//! harmless to every way a real relay misbehaves: `ambiguous` publishes the event but
//! forgets the ack (the next round publishes it again, which the server drops within its
//! duplicate window), `duplicate` publishes a second copy under a new message id (as a
//! relay republishing after the window would: the consumer sees it twice), `delay=MS`
//! holds the event back and publishes it after the rest of its round (reordered),
//! `unavailable` (or `refuse`) publishes neither it nor the rest of its round, and `crash` exits the
//! process once the broker acked it, before it is marked published.

use std::time::Duration;

use saga_contracts::orders::v1 as proto;
use service_kit::faults::{FaultKind, Faults};

/// The pseudo-method the relay's fault rules name.
pub const RELAY_PUBLISH: &str = "RelayPublish";

/// How one event of a round is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Once,
    /// Published, but not marked published this round.
    Forgotten,
    /// Published twice, the second time under a message id the server has not seen.
    Twice,
    /// Published after the rest of the round, this much later.
    Held(Duration),
    /// Exits the process after the broker acked it, before the mark.
    CrashAfter,
}

/// A round's events in the order they are published, each with its fate, and whether
/// an injected `unavailable` cut the round short.
#[derive(Debug)]
pub struct Round {
    pub publications: Vec<(proto::OrderEvent, Fate)>,
    pub cut_short: bool,
}

impl Round {
    /// Draws each event's fate, oldest first; the held ones go last.
    pub fn draw(faults: &Faults, events: Vec<proto::OrderEvent>) -> Self {
        let mut now = Vec::with_capacity(events.len());
        let mut held = Vec::new();
        let mut cut_short = false;
        for event in events {
            let fate = match faults.draw(RELAY_PUBLISH) {
                None => Fate::Once,
                Some(FaultKind::Ambiguous) => Fate::Forgotten,
                Some(FaultKind::Duplicate) => Fate::Twice,
                Some(FaultKind::Delay(by)) => Fate::Held(by),
                Some(FaultKind::Crash) => Fate::CrashAfter,
                // A refusal by the broker stops the round as an outage does.
                Some(FaultKind::Unavailable | FaultKind::Refuse) => {
                    cut_short = true;
                    break;
                }
            };
            match fate {
                Fate::Held(_) => held.push((event, fate)),
                _ => now.push((event, fate)),
            }
        }
        now.extend(held);
        Self {
            publications: now,
            cut_short,
        }
    }

    /// Says in the log which faults the round injects (`injected fault: KIND`, as the
    /// RPCs' faults do); a duplicate is logged as it is sent.
    pub fn log_faults(&self) {
        for (event, fate) in &self.publications {
            let kind = match fate {
                Fate::Forgotten => "ambiguous",
                Fate::Held(_) => "delay",
                Fate::Once | Fate::Twice | Fate::CrashAfter => continue,
            };
            tracing::warn!(event.id = event.event_id, "injected fault: {kind} (relay)");
        }
        if self.cut_short {
            tracing::warn!("injected fault: unavailable (relay)");
        }
    }

    /// Whether the round must report a failure (and so back off and publish again).
    pub fn faulted(&self) -> bool {
        self.cut_short
            || self
                .publications
                .iter()
                .any(|(_, fate)| *fate == Fate::Forgotten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: u64) -> Vec<proto::OrderEvent> {
        (1..=n)
            .map(|event_id| proto::OrderEvent {
                event_id,
                ..Default::default()
            })
            .collect()
    }

    fn ids(round: &Round) -> Vec<u64> {
        round.publications.iter().map(|(e, _)| e.event_id).collect()
    }

    #[test]
    fn without_faults_every_event_is_published_once_in_order() {
        let round = Round::draw(&Faults::none(), events(3));
        assert_eq!(ids(&round), [1, 2, 3]);
        assert!(round.publications.iter().all(|(_, f)| *f == Fate::Once));
        assert!(!round.faulted());
    }

    #[test]
    fn a_held_event_goes_after_the_rest_of_its_round() {
        let faults = Faults::parse("RelayPublish:delay=30:1", 0).expect("valid");
        let round = Round::draw(&faults, events(2));
        assert_eq!(ids(&round), [1, 2]);
        assert!(
            round
                .publications
                .iter()
                .all(|(_, f)| *f == Fate::Held(Duration::from_millis(30)))
        );
        let mixed = Faults::parse("RelayPublish:delay=30:0.5", 3).expect("valid");
        for _ in 0..20 {
            let round = Round::draw(&mixed, events(8));
            let held_from = round
                .publications
                .iter()
                .position(|(_, f)| matches!(f, Fate::Held(_)))
                .unwrap_or(round.publications.len());
            assert!(
                round.publications[held_from..]
                    .iter()
                    .all(|(_, f)| matches!(f, Fate::Held(_)))
            );
            assert_eq!(round.publications.len(), 8);
        }
    }

    #[test]
    fn unavailable_cuts_the_round_before_the_event_and_forgotten_acks_fail_it() {
        let cut = Round::draw(
            &Faults::parse("RelayPublish:unavailable:1", 0).expect("valid"),
            events(3),
        );
        assert!(cut.publications.is_empty() && cut.faulted());
        let forgotten = Round::draw(
            &Faults::parse("RelayPublish:ambiguous:1", 0).expect("valid"),
            events(2),
        );
        assert_eq!(ids(&forgotten), [1, 2]);
        assert!(forgotten.faulted());
    }
}

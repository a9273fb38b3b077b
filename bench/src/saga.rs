//! The measured load: one PlaceOrder (or StartSaga) per saga, waiting for the saga to end (`wait_ms` 0),
//! remembering which saga each key was answered with for the final check.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use saga_tests::invariants::Placement;
use tonic::Request;

use crate::config::Flow;
use crate::load::Operation;
use crate::outcome::Outcome;
use crate::stack::Clients;
use crate::workload::Workload;

/// Places the run's orders through the orchestrator.
#[derive(Debug)]
pub struct SagaCalls {
    clients: Clients,
    workload: Workload,
    definition: Flow,
    timeout: Duration,
    /// Call n's answered saga id.
    answers: Mutex<BTreeMap<u64, String>>,
}

impl SagaCalls {
    /// Calls over `clients`, each with the deadline `timeout`.
    pub fn new(clients: Clients, workload: Workload, definition: Flow, timeout: Duration) -> Self {
        Self {
            clients,
            workload,
            definition,
            timeout,
            answers: Mutex::default(),
        }
    }

    /// What the client knows of each answered key: its order and the saga it was
    /// answered with. A call that failed may or may not have started a saga (a refusal
    /// under overload starts none), so its key is left out.
    pub fn placements(&self) -> Vec<Placement> {
        let answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        answers
            .iter()
            .map(|(&n, saga_id)| {
                let order = self.workload.order(n);
                Placement {
                    key: self.workload.place_order(n).idempotency_key,
                    answered: BTreeSet::from([saga_id.clone()]),
                    total_cents: order.total_cents,
                    over_limit: order.compensates,
                    refused: false,
                }
            })
            .collect()
    }
}

impl Operation for SagaCalls {
    async fn call(&self, n: u64) -> Outcome {
        let mut client = self.clients.orchestrator(n);
        let answer = match self.definition {
            Flow::PlaceOrder => {
                let mut request = Request::new(self.workload.place_order(n));
                request.set_timeout(self.timeout);
                client
                    .place_order(request)
                    .await
                    .map(|r| r.into_inner().saga)
            }
            Flow::OrderWithStock => {
                let mut request = Request::new(self.workload.start_saga(n));
                request.set_timeout(self.timeout);
                client
                    .start_saga(request)
                    .await
                    .map(|r| r.into_inner().saga)
            }
        };
        match answer {
            Ok(Some(saga)) => {
                let outcome = Outcome::of_status(saga.status());
                self.answers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(n, saga.saga_id);
                outcome
            }
            Ok(None) => Outcome::Error("AnsweredWithoutSaga".into()),
            Err(status) => Outcome::of_error(&status),
        }
    }
}

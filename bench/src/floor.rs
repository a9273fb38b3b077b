//! The floor: the same orders placed by calling the participants directly, CreateOrder →
//! CreateInvoice → ConfirmOrder (CancelOrder, and VoidInvoice when the invoice may exist,
//! when invoicing fails), with a fresh saga id each and no orchestrator and no saga log.
//! Transient errors are retried like the orchestrator does, so faults cost both alike.

use std::future::Future;
use std::time::Duration;

use saga_contracts::invoices::v1::VoidInvoiceRequest;
use saga_contracts::orders::v1::{CancelOrderRequest, ConfirmOrderRequest};
use tonic::{Code, Request, Response, Status};

use crate::load::Operation;
use crate::outcome::Outcome;
use crate::stack::Clients;
use crate::workload::{Workload, create_invoice};

/// Attempts of a forward step (create order, create invoice) before undoing.
const FORWARD_ATTEMPTS: u32 = 8;
/// Attempts of a step that must not give up early (confirm, cancel, void).
const FINISH_ATTEMPTS: u32 = 30;
/// First pause between attempts; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_BASE: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// How a retried call ended.
enum Ended<T> {
    Done(T),
    /// Refused for good: the call had no effect.
    Refused(Status),
    /// Out of attempts on transient errors: the call may have taken effect.
    GaveUp(Status),
}

/// Places the run's orders by calling the participants directly.
#[derive(Debug)]
pub struct DirectCalls {
    clients: Clients,
    workload: Workload,
    call_timeout: Duration,
}

impl DirectCalls {
    /// Calls over `clients`, each with the deadline `call_timeout`.
    pub fn new(clients: Clients, workload: Workload, call_timeout: Duration) -> Self {
        Self {
            clients,
            workload,
            call_timeout,
        }
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.call_timeout);
        request
    }

    /// Undoes what may have taken effect: the invoice (when `void`), then the order.
    async fn undo(&self, n: u64, saga_id: &str, order_id: &str, void: bool) -> Outcome {
        if void {
            let voided = retried(FINISH_ATTEMPTS, || {
                let mut client = self.clients.invoices(n);
                let request = self.request(VoidInvoiceRequest {
                    saga_id: saga_id.to_string(),
                    invoice_id: String::new(),
                });
                async move { client.void_invoice(request).await }
            })
            .await;
            if let Some(outcome) = unfinished(voided) {
                return outcome;
            }
        }
        let cancelled = retried(FINISH_ATTEMPTS, || {
            let mut client = self.clients.orders(n);
            let request = self.request(CancelOrderRequest {
                saga_id: saga_id.to_string(),
                order_id: order_id.to_string(),
            });
            async move { client.cancel_order(request).await }
        })
        .await;
        unfinished(cancelled).unwrap_or(Outcome::Compensated)
    }
}

impl Operation for DirectCalls {
    async fn call(&self, n: u64) -> Outcome {
        let (saga_id, create, order) = self.workload.create_order(n);
        let created = retried(FORWARD_ATTEMPTS, || {
            let mut client = self.clients.orders(n);
            let request = self.request(create.clone());
            async move { client.create_order(request).await }
        })
        .await;
        let order_id = match created {
            Ended::Done(created) => created.order_id,
            Ended::Refused(status) => return Outcome::of_error(&status),
            Ended::GaveUp(_) => return self.undo(n, &saga_id, "", false).await,
        };
        let invoiced = retried(FORWARD_ATTEMPTS, || {
            let mut client = self.clients.invoices(n);
            let request = self.request(create_invoice(&saga_id, &order_id, &order));
            async move { client.create_invoice(request).await }
        })
        .await;
        match invoiced {
            Ended::Done(_) => {}
            Ended::Refused(_) => return self.undo(n, &saga_id, &order_id, false).await,
            Ended::GaveUp(_) => return self.undo(n, &saga_id, &order_id, true).await,
        }
        let confirmed = retried(FINISH_ATTEMPTS, || {
            let mut client = self.clients.orders(n);
            let request = self.request(ConfirmOrderRequest {
                saga_id: saga_id.clone(),
                order_id: order_id.clone(),
                ..Default::default()
            });
            async move { client.confirm_order(request).await }
        })
        .await;
        unfinished(confirmed).unwrap_or(Outcome::Completed)
    }
}

/// The outcome of a step that had to succeed and did not (`None`: it succeeded).
fn unfinished<T>(ended: Ended<T>) -> Option<Outcome> {
    match ended {
        Ended::Done(_) => None,
        Ended::Refused(_) => Some(Outcome::Failed),
        Ended::GaveUp(status) => Some(Outcome::of_error(&status)),
    }
}

/// Whether a code may be retried: the orchestrator's classification (its engine retries
/// exactly these).
fn transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Cancelled
            | Code::Unknown
    )
}

/// Calls up to `attempts` times while the answer is a transient error, with exponential
/// backoff in between.
async fn retried<T, F, Fut>(attempts: u32, mut call: F) -> Ended<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Response<T>, Status>>,
{
    let mut pause = BACKOFF_BASE;
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(response) => return Ended::Done(response.into_inner()),
            Err(status) if !transient(status.code()) => return Ended::Refused(status),
            Err(status) if attempt >= attempts => return Ended::GaveUp(status),
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(BACKOFF_MAX);
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    async fn run(attempts: u32, answers: &[Code]) -> (Ended<u32>, u32) {
        let calls = AtomicU32::new(0);
        let ended = retried(attempts, || {
            let i = calls.fetch_add(1, Ordering::Relaxed);
            let code = answers.get(i as usize).copied().unwrap_or(Code::Ok);
            async move {
                match code {
                    Code::Ok => Ok(Response::new(i)),
                    code => Err(Status::new(code, "injected")),
                }
            }
        })
        .await;
        (ended, calls.load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_an_answer() {
        let (ended, calls) = run(8, &[Code::Unavailable, Code::DeadlineExceeded]).await;
        assert!(matches!(ended, Ended::Done(2)));
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn a_refusal_is_not_retried() {
        let (ended, calls) = run(8, &[Code::FailedPrecondition]).await;
        assert!(matches!(ended, Ended::Refused(s) if s.code() == Code::FailedPrecondition));
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn the_attempts_run_out_on_transient_errors() {
        let (ended, calls) = run(3, &[Code::Unavailable; 5]).await;
        assert!(matches!(ended, Ended::GaveUp(s) if s.code() == Code::Unavailable));
        assert_eq!(calls, 3);
    }
}

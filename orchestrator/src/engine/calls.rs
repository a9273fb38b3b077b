//! The saga's calls to the participants, and their answers turned into events.

use std::time::Duration;

use saga_contracts::invoices::v1 as invoices;
use saga_contracts::orders::v1 as orders;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument;

use super::classify::classify;
use super::pool::Pool;
use crate::dynamic::{CallMetadata, Operation};
use crate::saga::{Call, Event, Failure, OrderRequest};

/// A participant URL that is not a valid endpoint.
#[derive(Debug, thiserror::Error)]
#[error("invalid participant url {url:?}")]
pub struct InvalidUrl {
    url: String,
    #[source]
    source: tonic::transport::Error,
}

type OrdersClient = orders::orders_client::OrdersClient<Channel>;
type InvoicesClient = invoices::invoices_client::InvoicesClient<Channel>;

/// Clients of the two participants, over `connections` HTTP/2 connections to each;
/// cheap to clone.
#[derive(Debug, Clone)]
pub struct Participants {
    orders: Pool<OrdersClient>,
    invoices: Pool<InvoicesClient>,
    call_timeout: Duration,
}

impl Participants {
    /// Connects lazily, so the orchestrator may start before the participants; at least
    /// one connection to each.
    pub fn connect(
        orders_url: &str,
        invoices_url: &str,
        connections: usize,
        call_timeout: Duration,
    ) -> Result<Self, InvalidUrl> {
        let channels = |url| -> Result<Vec<Channel>, InvalidUrl> {
            (0..connections.max(1)).map(|_| channel(url)).collect()
        };
        Ok(Self {
            orders: Pool::new(channels(orders_url)?, OrdersClient::new),
            invoices: Pool::new(channels(invoices_url)?, InvoicesClient::new),
            call_timeout,
        })
    }

    /// Makes `call` for the saga and reports how it ended. Never fails: a failure is an
    /// event for the state machine to decide on.
    pub async fn perform(
        &self,
        saga_id: &str,
        order: &OrderRequest,
        call: &Call,
        attempt: u32,
    ) -> Event {
        let span = tracing::info_span!(
            "call",
            saga.id = saga_id,
            step = call.step().as_str(),
            attempt
        );
        self.dispatch(saga_id, order, call)
            .instrument(span)
            .await
            .unwrap_or_else(|status| {
                let failure = classify(&status);
                if failure == Failure::Transient {
                    tracing::warn!(saga.id = saga_id, step = call.step().as_str(), attempt, code = ?status.code(), "call failed, will retry");
                }
                Event::CallFailed {
                    failure,
                    detail: format!("{:?}: {}", status.code(), status.message()),
                }
            })
    }

    async fn dispatch(
        &self,
        saga_id: &str,
        order: &OrderRequest,
        call: &Call,
    ) -> Result<Event, tonic::Status> {
        let metadata = call_metadata(saga_id, call);
        let saga_id = saga_id.to_string();
        match call {
            Call::CreateOrder => {
                let request = orders::CreateOrderRequest {
                    saga_id,
                    customer_id: order.customer_id().to_string(),
                    items: order.items().iter().map(to_line).collect(),
                    currency: order.currency().to_string(),
                };
                let created = self
                    .orders
                    .pick()
                    .create_order(self.timed(request, &metadata)?)
                    .await?;
                let order_id = non_empty(created.into_inner().order_id, "order_id")?;
                Ok(Event::OrderCreated { order_id })
            }
            Call::CreateInvoice { order_id } => {
                let request = invoices::CreateInvoiceRequest {
                    saga_id,
                    order_id: order_id.clone(),
                    customer_id: order.customer_id().to_string(),
                    amount_cents: order.total_cents(),
                    currency: order.currency().to_string(),
                };
                let issued = self
                    .invoices
                    .pick()
                    .create_invoice(self.timed(request, &metadata)?)
                    .await?;
                let invoice_id = non_empty(issued.into_inner().invoice_id, "invoice_id")?;
                Ok(Event::InvoiceIssued { invoice_id })
            }
            Call::ConfirmOrder { order_id } => {
                let request = orders::ConfirmOrderRequest {
                    saga_id,
                    order_id: order_id.clone(),
                };
                self.orders
                    .pick()
                    .confirm_order(self.timed(request, &metadata)?)
                    .await?;
                Ok(Event::OrderConfirmed)
            }
            Call::VoidInvoice { invoice_id } => {
                let request = invoices::VoidInvoiceRequest {
                    saga_id,
                    invoice_id: invoice_id.clone().unwrap_or_default(),
                };
                self.invoices
                    .pick()
                    .void_invoice(self.timed(request, &metadata)?)
                    .await?;
                Ok(Event::InvoiceVoided)
            }
            Call::CancelOrder { order_id } => {
                let request = orders::CancelOrderRequest {
                    saga_id,
                    order_id: order_id.clone().unwrap_or_default(),
                };
                self.orders
                    .pick()
                    .cancel_order(self.timed(request, &metadata)?)
                    .await?;
                Ok(Event::OrderCancelled)
            }
        }
    }

    /// The request with the call's deadline and saga metadata.
    fn timed<T>(
        &self,
        message: T,
        metadata: &CallMetadata<'_>,
    ) -> Result<tonic::Request<T>, tonic::Status> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.call_timeout);
        metadata.apply(request.metadata_mut())?;
        Ok(request)
    }
}

/// The saga metadata of one of the order saga's calls: its definition's step and
/// operation (a compensation names the step it undoes), as place-order.json has them.
fn call_metadata<'a>(saga_id: &'a str, call: &Call) -> CallMetadata<'a> {
    let (step, operation) = match call {
        Call::CreateOrder => ("create_order", Operation::Action),
        Call::CreateInvoice { .. } => ("create_invoice", Operation::Action),
        Call::ConfirmOrder { .. } => ("confirm_order", Operation::Action),
        Call::VoidInvoice { .. } => ("create_invoice", Operation::Compensation),
        Call::CancelOrder { .. } => ("create_order", Operation::Compensation),
    };
    CallMetadata {
        saga_id,
        step,
        operation,
    }
}

fn channel(url: &str) -> Result<Channel, InvalidUrl> {
    let endpoint = Endpoint::from_shared(url.to_string()).map_err(|source| InvalidUrl {
        url: url.to_string(),
        source,
    })?;
    Ok(endpoint
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .connect_lazy())
}

fn to_line(item: &crate::saga::LineItem) -> orders::LineItem {
    orders::LineItem {
        sku: item.sku.clone(),
        quantity: item.quantity,
        unit_price_cents: item.unit_price_cents,
    }
}

/// A participant that answers success without an id broke its contract.
fn non_empty(id: String, field: &str) -> Result<String, tonic::Status> {
    if id.is_empty() {
        return Err(tonic::Status::internal(format!(
            "participant answered an empty {field}"
        )));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use tonic::metadata::MetadataMap;

    use super::*;

    #[test]
    fn every_call_carries_its_step_operation_and_idempotency_key() {
        let expected = [
            (Call::CreateOrder, "create_order", "action"),
            (
                Call::CreateInvoice {
                    order_id: "o".into(),
                },
                "create_invoice",
                "action",
            ),
            (
                Call::ConfirmOrder {
                    order_id: "o".into(),
                },
                "confirm_order",
                "action",
            ),
            (
                Call::VoidInvoice { invoice_id: None },
                "create_invoice",
                "compensation",
            ),
            (
                Call::CancelOrder { order_id: None },
                "create_order",
                "compensation",
            ),
        ];
        for (call, step, operation) in expected {
            let mut map = MetadataMap::new();
            call_metadata("s-1", &call)
                .apply(&mut map)
                .expect("valid metadata");
            let get = |key: &str| {
                map.get(key)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            assert_eq!(get("saga-id").as_deref(), Some("s-1"));
            assert_eq!(get("saga-step").as_deref(), Some(step));
            assert_eq!(get("saga-operation").as_deref(), Some(operation));
            assert_eq!(
                get("idempotency-key"),
                Some(format!("s-1:{step}:{operation}"))
            );
        }
    }
}

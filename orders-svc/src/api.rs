//! The gRPC edge of the orders participant: each handler validates its request, then
//! runs the whole operation under the fault injector and converts the answer back.

use std::sync::Arc;

use saga_contracts::orders::v1 as proto;
use saga_contracts::orders::v1::orders_server::Orders;
use service_kit::db::Db;
use service_kit::faults::Faults;
use tokio::sync::{Notify, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::domain::{CancelOrder, ConfirmOrder, Invoicing, NewOrder, OrderFilter, UpdateOrder};
use crate::plan::Writer;
use crate::{direct, service, watch};

/// Most requests whose writes share one commit.
pub const MAX_BATCH: usize = 256;
/// Events a slow stream client may have waiting.
const STREAM_BUFFER: usize = 256;

/// The `orders.v1.Orders` service over one database.
#[derive(Debug, Clone)]
pub struct OrdersApi {
    db: Db,
    /// Write transactions of concurrent requests share commits (group commit).
    writer: Writer,
    faults: Arc<Faults>,
    /// Told after every write that committed an outbox event, to wake the streams.
    committed: Arc<Notify>,
}

impl OrdersApi {
    /// Serves `db`, writing through `writer`, injecting `faults` into every RPC; tells
    /// `committed` after each write that committed an outbox event.
    pub fn new(db: Db, writer: Writer, faults: Arc<Faults>, committed: Arc<Notify>) -> Self {
        Self {
            db,
            writer,
            faults,
            committed,
        }
    }

    /// Runs the write `op`, named `rpc`, under the faults, and wakes the event streams
    /// once it committed.
    async fn emitting<T>(
        &self,
        rpc: &str,
        op: impl Future<Output = Result<T, crate::ApiError>>,
    ) -> Result<T, Status> {
        let answer = self.faults.around(rpc, async { Ok(op.await?) }).await;
        if answer.is_ok() {
            self.committed.notify_waiters();
        }
        answer
    }

    #[tracing::instrument(skip_all, fields(saga_id = ?request.saga_id))]
    async fn create(&self, request: proto::CreateOrderRequest) -> Result<proto::Order, Status> {
        let new = NewOrder::try_from(request)?;
        self.faults
            .around("CreateOrder", async {
                Ok(service::create_order(&self.writer, new).await?)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(saga_id = ?request.saga_id, order.id = ?request.order_id))]
    async fn confirm(&self, request: proto::ConfirmOrderRequest) -> Result<proto::Order, Status> {
        let confirm = ConfirmOrder::try_from(request)?;
        self.faults
            .around("ConfirmOrder", async {
                Ok(service::confirm_order(&self.writer, confirm).await?)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(saga_id = ?request.saga_id, order.id = ?request.order_id))]
    async fn cancel(
        &self,
        request: proto::CancelOrderRequest,
    ) -> Result<proto::CancelOrderResponse, Status> {
        let cancel = CancelOrder::try_from(request)?;
        self.faults
            .around("CancelOrder", async {
                Ok(service::cancel_order(&self.writer, cancel).await?)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(order.id = ?request.order_id))]
    async fn get(&self, request: proto::GetOrderRequest) -> Result<proto::Order, Status> {
        let order_id = convert::order_id(request)?;
        self.faults
            .around("GetOrder", async {
                Ok(service::get_order(&self.db, &order_id).await?)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn list(
        &self,
        request: proto::ListOrdersRequest,
    ) -> Result<proto::ListOrdersResponse, Status> {
        let filter = OrderFilter::try_from(request)?;
        self.faults
            .around("ListOrders", async {
                Ok(service::list_orders(&self.db, filter).await?)
            })
            .await
    }
}

#[tonic::async_trait]
impl Orders for OrdersApi {
    type WatchOrderEventsStream = ReceiverStream<Result<proto::OrderEvent, Status>>;

    #[tracing::instrument(skip_all, fields(key = ?request.get_ref().idempotency_key))]
    async fn place_order(
        &self,
        request: Request<proto::PlaceOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        let new = NewOrder::try_from(request.into_inner())?;
        let placed = direct::place_order(&self.writer, new);
        self.emitting("PlaceOrder", placed).await.map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(order.id = ?request.get_ref().order_id))]
    async fn update_order(
        &self,
        request: Request<proto::UpdateOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        let update = UpdateOrder::try_from(request.into_inner())?;
        let updated = direct::update_order(&self.writer, update);
        self.emitting("UpdateOrder", updated)
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(order.id = ?request.get_ref().order_id))]
    async fn withdraw_order(
        &self,
        request: Request<proto::WithdrawOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        let order_id = convert::withdrawn_order_id(request.into_inner())?;
        let withdrawn = direct::withdraw_order(&self.writer, order_id);
        self.emitting("WithdrawOrder", withdrawn)
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(saga_id = ?request.get_ref().saga_id, order.id = ?request.get_ref().order_id))]
    async fn begin_invoicing(
        &self,
        request: Request<proto::BeginInvoicingRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        let invoicing = Invoicing::try_from(request.into_inner())?;
        let begun = direct::begin_invoicing(&self.writer, invoicing);
        self.emitting("BeginInvoicing", begun)
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(saga_id = ?request.get_ref().saga_id, order.id = ?request.get_ref().order_id))]
    async fn reject_order(
        &self,
        request: Request<proto::RejectOrderRequest>,
    ) -> Result<Response<proto::RejectOrderResponse>, Status> {
        let invoicing = Invoicing::try_from(request.into_inner())?;
        let rejected = direct::reject_order(&self.writer, invoicing);
        self.emitting("RejectOrder", rejected)
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(after = request.get_ref().after_event_id))]
    async fn watch_order_events(
        &self,
        request: Request<proto::WatchOrderEventsRequest>,
    ) -> Result<Response<Self::WatchOrderEventsStream>, Status> {
        self.faults
            .around("WatchOrderEvents", async { Ok(()) })
            .await?;
        let (sink, events) = mpsc::channel(STREAM_BUFFER);
        let after = request.into_inner().after_event_id;
        tokio::spawn(watch::follow(
            self.db.clone(),
            self.committed.clone(),
            after,
            sink,
        ));
        Ok(Response::new(ReceiverStream::new(events)))
    }

    async fn create_order(
        &self,
        request: Request<proto::CreateOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        self.create(request.into_inner()).await.map(Response::new)
    }

    async fn confirm_order(
        &self,
        request: Request<proto::ConfirmOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        self.confirm(request.into_inner()).await.map(Response::new)
    }

    async fn cancel_order(
        &self,
        request: Request<proto::CancelOrderRequest>,
    ) -> Result<Response<proto::CancelOrderResponse>, Status> {
        self.cancel(request.into_inner()).await.map(Response::new)
    }

    async fn get_order(
        &self,
        request: Request<proto::GetOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        self.get(request.into_inner()).await.map(Response::new)
    }

    async fn list_orders(
        &self,
        request: Request<proto::ListOrdersRequest>,
    ) -> Result<Response<proto::ListOrdersResponse>, Status> {
        self.list(request.into_inner()).await.map(Response::new)
    }
}

//! The gRPC edge of the orders participant: each handler validates its request, then
//! runs the whole operation under the fault injector and converts the answer back.

use std::sync::Arc;

use saga_contracts::orders::v1 as proto;
use saga_contracts::orders::v1::orders_server::Orders;
use service_kit::db::{Db, GroupWriter};

/// Most requests whose writes share one commit.
const MAX_BATCH: usize = 256;
use service_kit::faults::Faults;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::domain::{CancelOrder, ConfirmOrder, NewOrder, OrderFilter};
use crate::service;

/// The `orders.v1.Orders` service over one database.
#[derive(Debug, Clone)]
pub struct OrdersApi {
    db: Db,
    /// Write transactions of concurrent requests share commits (group commit).
    writer: GroupWriter,
    faults: Arc<Faults>,
}

impl OrdersApi {
    /// Serves `db`, injecting `faults` into every RPC.
    pub fn new(db: Db, faults: Arc<Faults>) -> Self {
        let writer = GroupWriter::start(db.clone(), MAX_BATCH);
        Self { db, writer, faults }
    }

    #[tracing::instrument(skip_all, fields(saga.id = %request.saga_id))]
    async fn create(&self, request: proto::CreateOrderRequest) -> Result<proto::Order, Status> {
        let new = NewOrder::try_from(request)?;
        self.faults
            .around("CreateOrder", async {
                Ok(service::create_order(&self.writer, new).await?)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(saga.id = %request.saga_id, order.id = %request.order_id))]
    async fn confirm(&self, request: proto::ConfirmOrderRequest) -> Result<proto::Order, Status> {
        let confirm = ConfirmOrder::try_from(request)?;
        self.faults
            .around("ConfirmOrder", async {
                Ok(service::confirm_order(&self.writer, confirm).await?)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(saga.id = %request.saga_id, order.id = %request.order_id))]
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

    #[tracing::instrument(skip_all, fields(order.id = %request.order_id))]
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

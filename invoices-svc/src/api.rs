//! The gRPC edge of the invoices participant: each handler validates its request, then
//! runs the whole operation under the fault injector and converts the answer back.

use std::sync::Arc;

use saga_contracts::invoices::v1 as proto;
use saga_contracts::invoices::v1::invoices_server::Invoices;
use service_kit::db::Db;
use service_kit::faults::Faults;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::domain::{InvoiceFilter, NewInvoice, VoidInvoice};
use crate::plan::{InvoicesPlan, Writer};
use crate::service;

/// Most requests whose writes share one commit.
const MAX_BATCH: usize = 256;

/// The `invoices.v1.Invoices` service over one database.
#[derive(Debug, Clone)]
pub struct InvoicesApi {
    db: Db,
    /// Write transactions of concurrent requests share commits (group commit).
    writer: Writer,
    faults: Arc<Faults>,
}

impl InvoicesApi {
    /// Serves `db`, injecting `faults` into every RPC and refusing invoices over
    /// `max_invoice_cents`.
    pub fn new(db: Db, faults: Arc<Faults>, max_invoice_cents: i64) -> Self {
        let plan = InvoicesPlan { max_invoice_cents };
        let writer = Writer::with_plan(db.clone(), MAX_BATCH, plan);
        Self { db, writer, faults }
    }

    #[tracing::instrument(skip_all, fields(saga_id = ?request.saga_id, order.id = ?request.order_id))]
    async fn create(&self, request: proto::CreateInvoiceRequest) -> Result<proto::Invoice, Status> {
        let new = NewInvoice::try_from(request)?;
        self.faults
            .around("CreateInvoice", async {
                Ok(service::create_invoice(&self.writer, new).await?)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(saga_id = ?request.saga_id, invoice.id = ?request.invoice_id))]
    async fn void(
        &self,
        request: proto::VoidInvoiceRequest,
    ) -> Result<proto::VoidInvoiceResponse, Status> {
        let void = VoidInvoice::try_from(request)?;
        self.faults
            .around("VoidInvoice", async {
                Ok(service::void_invoice(&self.writer, void).await?)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(invoice.id = ?request.invoice_id))]
    async fn get(&self, request: proto::GetInvoiceRequest) -> Result<proto::Invoice, Status> {
        let invoice_id = convert::invoice_id(request)?;
        self.faults
            .around("GetInvoice", async {
                Ok(service::get_invoice(&self.db, &invoice_id).await?)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn list(
        &self,
        request: proto::ListInvoicesRequest,
    ) -> Result<proto::ListInvoicesResponse, Status> {
        let filter = InvoiceFilter::try_from(request)?;
        self.faults
            .around("ListInvoices", async {
                Ok(service::list_invoices(&self.db, filter).await?)
            })
            .await
    }
}

#[tonic::async_trait]
impl Invoices for InvoicesApi {
    async fn create_invoice(
        &self,
        request: Request<proto::CreateInvoiceRequest>,
    ) -> Result<Response<proto::Invoice>, Status> {
        self.create(request.into_inner()).await.map(Response::new)
    }

    async fn void_invoice(
        &self,
        request: Request<proto::VoidInvoiceRequest>,
    ) -> Result<Response<proto::VoidInvoiceResponse>, Status> {
        self.void(request.into_inner()).await.map(Response::new)
    }

    async fn get_invoice(
        &self,
        request: Request<proto::GetInvoiceRequest>,
    ) -> Result<Response<proto::Invoice>, Status> {
        self.get(request.into_inner()).await.map(Response::new)
    }

    async fn list_invoices(
        &self,
        request: Request<proto::ListInvoicesRequest>,
    ) -> Result<Response<proto::ListInvoicesResponse>, Status> {
        self.list(request.into_inner()).await.map(Response::new)
    }
}

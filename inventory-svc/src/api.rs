//! The gRPC edge: validate, then run the operation under the fault injector.

use std::sync::Arc;

use service_kit::db::Db;
use service_kit::faults::Faults;
use service_kit::participant::{ParticipantError, validate};
use service_kit::saga_call::SagaCall;
use tonic::{Request, Response, Status};

use crate::proto;
use crate::service::{self, InventoryPlan, Release, Reserve, Writer};

/// Most requests whose writes share one commit.
const MAX_BATCH: usize = 256;
/// The longest SKU accepted.
const MAX_SKU_BYTES: usize = 64;

/// `inventory.v1.Inventory` over one database.
#[derive(Debug, Clone)]
pub struct InventoryApi {
    writer: Writer,
    faults: Arc<Faults>,
    max_quantity: u32,
}

impl InventoryApi {
    pub fn new(db: Db, faults: Arc<Faults>, max_quantity: u32) -> Self {
        Self {
            writer: Writer::with_plan(db, MAX_BATCH, InventoryPlan),
            faults,
            max_quantity,
        }
    }
}

#[tonic::async_trait]
impl proto::inventory_server::Inventory for InventoryApi {
    #[tracing::instrument(skip_all, fields(saga_id = ?request.get_ref().saga_id))]
    async fn reserve(
        &self,
        request: Request<proto::ReserveRequest>,
    ) -> Result<Response<proto::Reservation>, Status> {
        let call = SagaCall::from_metadata(request.metadata())?;
        let request = request.into_inner();
        if request.quantity == 0 {
            return Err(ParticipantError::invalid("quantity", "must be at least 1").into());
        }
        if request.quantity > self.max_quantity {
            let why = format!(
                "{} is more than the {} one reservation may hold",
                request.quantity, self.max_quantity
            );
            return Err(ParticipantError::Refused(why).into());
        }
        let reserve = Reserve {
            saga_id: same_saga(&call, request.saga_id)?,
            call,
            sku: validate::bounded(
                "sku",
                validate::required("sku", request.sku)?,
                MAX_SKU_BYTES,
            )?,
            quantity: request.quantity,
        };
        let answer = self
            .faults
            .around("Reserve", async {
                Ok(service::reserve(&self.writer, reserve).await?)
            })
            .await?;
        Ok(Response::new(answer))
    }

    #[tracing::instrument(skip_all, fields(saga_id = ?request.get_ref().saga_id))]
    async fn release(
        &self,
        request: Request<proto::ReleaseRequest>,
    ) -> Result<Response<proto::ReleaseResponse>, Status> {
        let call = SagaCall::from_metadata(request.metadata())?;
        let request = request.into_inner();
        let release = Release {
            saga_id: same_saga(&call, request.saga_id)?,
            call,
            reservation_id: validate::optional(request.reservation_id),
        };
        let answer = self
            .faults
            .around("Release", async {
                Ok(service::release(&self.writer, release).await?)
            })
            .await?;
        Ok(Response::new(answer))
    }
}

/// The request's saga id, which must be the one its metadata names.
fn same_saga(call: &SagaCall, saga_id: String) -> Result<String, Status> {
    let saga_id = validate::saga_id(saga_id)?;
    if saga_id != call.saga_id() {
        return Err(ParticipantError::invalid(
            "saga_id",
            "is not the saga-id of the call's metadata",
        )
        .into());
    }
    Ok(saga_id)
}

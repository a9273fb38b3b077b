//! Runs the real `inventory-svc` binary on port 0, on each backend: a repeated reserve
//! returns the first reservation, a release before the reserve leaves a tombstone that
//! refuses the late reserve, too large a reservation is refused, a call without the saga
//! metadata its barrier is keyed on is refused, reflection is served.

use std::time::Duration;

use anyhow::Context;
use inventory_svc::proto::inventory_client::InventoryClient;
use inventory_svc::proto::{ReleaseRequest, ReservationStatus, ReserveRequest};
use service_kit::testing::{ServiceProcess, fresh_urls};
use tokio::time::timeout;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request};

const WAIT: Duration = Duration::from_secs(30);

/// A request with the saga metadata the orchestrator sends for step `reserve_stock`.
fn with_metadata<T>(message: T, saga_id: &str, operation: &'static str) -> Request<T> {
    let mut request = Request::new(message);
    let metadata = request.metadata_mut();
    if let Ok(id) = MetadataValue::try_from(saga_id) {
        metadata.insert("saga-id", id);
    }
    metadata.insert("saga-step", MetadataValue::from_static("reserve_stock"));
    metadata.insert("saga-operation", MetadataValue::from_static(operation));
    request
}

fn reserve(saga_id: &str, quantity: u32) -> Request<ReserveRequest> {
    let message = ReserveRequest {
        saga_id: saga_id.into(),
        sku: "SKU-1".into(),
        quantity,
    };
    with_metadata(message, saga_id, "action")
}

fn release(saga_id: &str) -> Request<ReleaseRequest> {
    let message = ReleaseRequest {
        saga_id: saga_id.into(),
        reservation_id: String::new(),
    };
    with_metadata(message, saga_id, "compensation")
}

#[tokio::test]
async fn reservations_are_idempotent_per_saga_and_releases_leave_tombstones() -> anyhow::Result<()>
{
    let (_dir, urls) = fresh_urls("inventory.db").await;
    for url in urls {
        let process = ServiceProcess::start(env!("CARGO_BIN_EXE_inventory-svc"), &url, &[])
            .await
            .with_context(|| format!("start inventory-svc on {url}"))?;
        let mut client = timeout(WAIT, InventoryClient::connect(process.url()))
            .await
            .context("connect timed out")??;
        let first = client.reserve(reserve("s-1", 3)).await?.into_inner();
        let again = client.reserve(reserve("s-1", 3)).await?.into_inner();
        assert_eq!(again, first, "a repeat answers the first reservation");
        assert_eq!(first.status(), ReservationStatus::Held);
        let released = client.release(release("s-1")).await?.into_inner();
        let released = released.reservation.context("the reservation")?;
        assert_eq!(
            (released.status(), released.reservation_id),
            (ReservationStatus::Released, first.reservation_id)
        );

        let tombstone = client.release(release("s-2")).await?.into_inner();
        assert_eq!(tombstone.reservation, None);
        let late = client
            .reserve(reserve("s-2", 1))
            .await
            .expect_err("a late reserve");
        assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");
        let too_many = client
            .reserve(reserve("s-3", 1_001))
            .await
            .expect_err("too many");
        assert_eq!(too_many.code(), Code::FailedPrecondition, "{too_many:?}");
        let none = client
            .reserve(reserve("s-4", 0))
            .await
            .expect_err("nothing");
        assert_eq!(none.code(), Code::InvalidArgument, "{none:?}");
        assert!(none.message().starts_with("quantity"), "{none:?}");
        let bare = client
            .reserve(ReserveRequest {
                saga_id: "s-5".into(),
                sku: "SKU-1".into(),
                quantity: 1,
            })
            .await
            .expect_err("a call without the saga metadata");
        assert_eq!(bare.code(), Code::InvalidArgument, "{bare:?}");
        assert!(bare.message().starts_with("saga-id"), "{bare:?}");
    }
    Ok(())
}

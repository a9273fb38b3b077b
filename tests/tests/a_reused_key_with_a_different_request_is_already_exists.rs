//! The same idempotency key with a different request is refused with ALREADY_EXISTS and
//! starts nothing; the first saga stays the only one.

use anyhow::Result;
use saga_contracts::saga::v1::{PlaceOrderRequest, SagaStatus};
use saga_tests::requests::{item, place, small_order};
use saga_tests::{Backend, Cluster, ClusterOptions, Counts, check_invariants, on_every_backend};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_key_with_a_different_request_is_already_exists() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let cluster = Cluster::start(ClusterOptions::default().backend(backend)).await?;
    let first = small_order(1);
    let saga = place(&cluster.orchestrator(), first.clone()).await?;
    assert_eq!(saga.status(), SagaStatus::Completed, "{saga:#?}");

    let variants = [
        PlaceOrderRequest {
            customer_id: "someone-else".into(),
            ..first.clone()
        },
        PlaceOrderRequest {
            items: vec![item("sku-other", 1, 999)],
            ..first.clone()
        },
        PlaceOrderRequest {
            currency: "USD".into(),
            ..first.clone()
        },
    ];
    let mut codes = Vec::new();
    for variant in variants {
        let code = match cluster.orchestrator().place_order(variant).await {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        };
        codes.push(code);
    }
    assert_eq!(codes, vec![Code::AlreadyExists; 3]);

    let summary = check_invariants(&cluster).await?;
    let ids: Vec<&str> = summary.sagas.iter().map(|s| s.saga_id.as_str()).collect();
    assert_eq!(ids, vec![saga.saga_id.as_str()]);
    assert_eq!(
        summary.counts,
        Counts {
            sagas_completed: 1,
            orders_confirmed: 1,
            invoices_issued: 1,
            ..Counts::default()
        }
    );
    Ok(())
}

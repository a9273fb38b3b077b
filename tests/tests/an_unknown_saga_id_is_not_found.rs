//! GetSaga for an id the orchestrator never handed out is NOT_FOUND.

use anyhow::Result;
use saga_contracts::saga::v1::GetSagaRequest;
use saga_tests::requests::{place, small_order};
use saga_tests::{Backend, Cluster, ClusterOptions, check_invariants, on_every_backend};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_saga_id_is_not_found() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let cluster = Cluster::start(ClusterOptions::default().backend(backend)).await?;
    let known = place(&cluster.orchestrator(), small_order(1)).await?;
    let unknown = "00000000-0000-4000-8000-000000000000";
    assert_ne!(known.saga_id, unknown);

    let answer = cluster
        .orchestrator()
        .get_saga(GetSagaRequest {
            saga_id: unknown.into(),
        })
        .await;

    assert_eq!(
        answer.map(|_| ()).map_err(|s| s.code()),
        Err(Code::NotFound)
    );
    let summary = check_invariants(&cluster).await?;
    assert_eq!(summary.sagas.len(), 1);
    Ok(())
}

//! Ten concurrent PlaceOrder calls with one idempotency key all get the same saga, and
//! only one saga, one order and one invoice exist.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;
use saga_tests::requests::{place_all, small_order};
use saga_tests::{Backend, Cluster, ClusterOptions, Counts, check_invariants, on_every_backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_one_key_start_one_saga() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let cluster = Cluster::start(ClusterOptions::default().backend(backend)).await?;
    let request = small_order(1);

    let sagas = place_all(&cluster.orchestrator(), vec![request; 10]).await?;
    cluster
        .wait_until_all_terminal(Duration::from_secs(20))
        .await?;

    let ids: BTreeSet<&str> = sagas.iter().map(|s| s.saga_id.as_str()).collect();
    assert_eq!(ids.len(), 1, "every call answered the same saga: {ids:?}");
    let summary = check_invariants(&cluster).await?;
    let listed: BTreeSet<&str> = summary.sagas.iter().map(|s| s.saga_id.as_str()).collect();
    assert_eq!(listed, ids);
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

//! ListSagas serves every saga exactly once across pages of the requested size, and its
//! status filter returns exactly the sagas in that status.

use std::collections::BTreeSet;

use anyhow::Result;
use saga_contracts::saga::v1::{Saga, SagaStatus};
use saga_tests::listing::saga_pages;
use saga_tests::requests::{large_order, place_all, small_order};
use saga_tests::{Backend, Cluster, ClusterOptions, check_invariants, on_every_backend};

const SMALL: usize = 7;
const LARGE: usize = 5;

fn ids<'a>(sagas: impl IntoIterator<Item = &'a Saga>) -> BTreeSet<String> {
    sagas.into_iter().map(|s| s.saga_id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_sagas_pages_through_all_sagas_and_filters_by_status() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let cluster = Cluster::start(
        ClusterOptions::default()
            .backend(backend)
            .max_invoice_cents(100_000),
    )
    .await?;
    let requests = (0..SMALL)
        .map(small_order)
        .chain((0..LARGE).map(large_order))
        .collect();
    let placed = place_all(&cluster.orchestrator(), requests).await?;
    let completed = ids(&placed[..SMALL]);
    let compensated = ids(&placed[SMALL..]);

    let client = cluster.orchestrator();
    let pages = saga_pages(&client, SagaStatus::Unspecified, 5).await?;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert!(
        sizes.iter().all(|n| *n <= 5),
        "pages of at most 5: {sizes:?}"
    );
    assert!(
        pages.len() >= 3,
        "12 sagas need at least 3 pages of 5: {sizes:?}"
    );
    let listed: Vec<&Saga> = pages.iter().flatten().collect();
    assert_eq!(
        listed.len(),
        SMALL + LARGE,
        "no saga listed twice: {sizes:?}"
    );
    assert_eq!(ids(listed), ids(&placed));

    let by_status = |status| {
        let client = client.clone();
        async move {
            let pages = saga_pages(&client, status, 2).await?;
            let statuses: BTreeSet<SagaStatus> = pages.iter().flatten().map(Saga::status).collect();
            anyhow::Ok((ids(pages.iter().flatten()), statuses))
        }
    };
    assert_eq!(
        by_status(SagaStatus::Completed).await?,
        (completed, BTreeSet::from([SagaStatus::Completed]))
    );
    assert_eq!(
        by_status(SagaStatus::Compensated).await?,
        (compensated, BTreeSet::from([SagaStatus::Compensated]))
    );
    assert_eq!(
        by_status(SagaStatus::Running).await?,
        (BTreeSet::new(), BTreeSet::new())
    );

    check_invariants(&cluster).await?;
    Ok(())
}

//! Listings' filters and counts, on every backend.

use super::*;

#[tokio::test]
async fn lists_filter_by_definition_time_idleness_and_key_text_and_count_by_status() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        for i in 0..5 {
            insert(store, &format!("s{i}"), &format!("key-{i}%"), &order("c")).await;
        }
        let listed = |filter: SagaFilter| async move {
            let sagas = store.list(&filter, 10, None).await.expect("list");
            sagas.len()
        };
        let with = |f: fn(&mut SagaFilter)| {
            let mut filter = SagaFilter::default();
            f(&mut filter);
            filter
        };
        assert_eq!(
            listed(with(|f| f.definition = Some("place-order".into()))).await,
            5
        );
        assert_eq!(
            listed(with(|f| f.definition = Some("other".into()))).await,
            0
        );
        // Inserted at 10 ms, not changed since.
        assert_eq!(listed(with(|f| f.created_after_ms = Some(9))).await, 5);
        assert_eq!(listed(with(|f| f.created_after_ms = Some(10))).await, 0);
        assert_eq!(listed(with(|f| f.created_before_ms = Some(11))).await, 5);
        assert_eq!(listed(with(|f| f.idle_since_ms = Some(11))).await, 5);
        assert_eq!(listed(with(|f| f.idle_since_ms = Some(10))).await, 0);
        // The text is matched as it is: `%` and `_` are no wildcards.
        assert_eq!(
            listed(with(|f| f.key_contains = Some("y-3%".into()))).await,
            1
        );
        assert_eq!(
            listed(with(|f| f.key_contains = Some("key_".into()))).await,
            0
        );
        assert_eq!(
            listed(with(|f| f.key_contains = Some("%%".into()))).await,
            0
        );
        let counts = store
            .count(&with(|f| f.status = Some(SagaStatus::Completed)))
            .await
            .expect("count");
        assert_eq!(
            counts,
            vec![(SagaStatus::Running, 5)],
            "the status filter aside"
        );
        let none = store
            .count(&with(|f| f.definition = Some("other".into())))
            .await
            .expect("count");
        assert!(none.is_empty());
    }
}

#[tokio::test]
async fn lists_filter_by_the_inputs_customer_and_by_parked() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        for (id, customer) in [("a1", "alice"), ("a2", "alice"), ("b1", "bob")] {
            insert(store, id, id, &order(customer)).await;
        }
        park(store, "a2").await;
        let listed = |filter: SagaFilter| async move {
            let sagas = store.list(&filter, 10, None).await.expect("list");
            sagas.into_iter().map(|s| s.saga_id).collect::<Vec<_>>()
        };
        let alice = SagaFilter {
            customer_id: Some("alice".into()),
            ..SagaFilter::default()
        };
        assert_eq!(listed(alice.clone()).await, ["a2", "a1"]);
        let parked = SagaFilter {
            parked: true,
            ..SagaFilter::default()
        };
        assert_eq!(listed(parked.clone()).await, ["a2"]);
        let nobody = SagaFilter {
            customer_id: Some("carol".into()),
            ..parked.clone()
        };
        assert!(listed(nobody).await.is_empty());
        let counts = store.count(&parked).await.expect("count");
        assert_eq!(counts, vec![(SagaStatus::Running, 1)]);
    }
}

/// Commits `saga_id`'s first call as parked, waiting for its retry.
async fn park(store: &dyn SagaStore, saga_id: &str) {
    let start = first_transition(10);
    let (step, _, progress) = start.state.pending().expect("a call");
    let waiting = SagaState {
        position: Position::Forward {
            step,
            progress: saga_definitions::machine::Progress {
                in_flight: false,
                parked: true,
                retry_at_ms: Some(60_000),
                ..progress
            },
        },
        ..start.state
    };
    let write = SagaWrite {
        saga_id,
        writer: "a",
        expected_version: 1,
        state: &waiting,
        log: &[],
        log_len: 2,
        now_ms: 20,
        lease_ms: FRESH,
    };
    store.commit(&write).await.expect("commit");
}

use super::*;

async fn stores() -> (tempfile::TempDir, Vec<SqlStore>) {
    crate::store::testing::sql_stores("feeds.db").await
}

fn lease(holder: &str, now_ms: i64) -> FeedLease<'_> {
    FeedLease {
        feed: "f",
        holder,
        now_ms,
        lease_ms: 100,
    }
}

#[tokio::test]
async fn one_holder_at_a_time_moves_a_feed_and_a_successor_continues_from_its_position() {
    let (_dir, stores) = stores().await;
    for store in stores {
        assert_eq!(
            store.hold_feed(lease("a", 0)).await.expect("hold"),
            Some(String::new())
        );
        assert_eq!(store.hold_feed(lease("b", 50)).await.expect("hold"), None);
        assert!(
            store
                .advance_feed(lease("a", 60), "p1")
                .await
                .expect("advance")
        );
        // a's renewed lease runs to 160: b waits, then takes over where a got to.
        assert_eq!(store.hold_feed(lease("b", 150)).await.expect("hold"), None);
        let taken = store.hold_feed(lease("b", 161)).await.expect("hold");
        assert_eq!(taken.as_deref(), Some("p1"));
        assert!(
            !store
                .advance_feed(lease("a", 170), "p0")
                .await
                .expect("fenced")
        );
        assert_eq!(
            store
                .hold_feed(lease("b", 171))
                .await
                .expect("renew")
                .as_deref(),
            Some("p1")
        );
    }
}

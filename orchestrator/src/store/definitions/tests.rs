use super::*;

async fn stores() -> (tempfile::TempDir, Vec<SqlStore>) {
    crate::store::testing::sql_stores("defs.db").await
}

fn new<'a>(name: &'a str, digest: &'a str) -> NewDefinition<'a> {
    NewDefinition {
        name,
        digest,
        body: digest.as_bytes(),
        descriptors: b"fds",
    }
}

#[tokio::test]
async fn the_same_body_is_one_version_and_a_changed_body_the_next() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let first = store.register(new("pay", "d1")).await.expect("register");
        assert_eq!((first.definition.version, first.created), (1, true));
        let again = store.register(new("pay", "d1")).await.expect("again");
        assert_eq!(
            again,
            Registered {
                created: false,
                ..first.clone()
            }
        );
        let second = store.register(new("pay", "d2")).await.expect("changed");
        assert_eq!((second.definition.version, second.created), (2, true));
        let other = store.register(new("ship", "d1")).await.expect("other name");
        assert_eq!(other.definition.version, 1, "versions count per name");

        let latest = store.definition("pay", None).await.expect("get");
        assert_eq!(latest, Some(second.definition.clone()));
        let v1 = store.definition("pay", Some(1)).await.expect("get v1");
        assert_eq!(v1, Some(first.definition.clone()));
        assert_eq!(
            store.definition("pay", Some(3)).await.expect("get v3"),
            None
        );
        assert_eq!(store.definition("nope", None).await.expect("get"), None);

        let all = store.latest_definitions().await.expect("list");
        let seen: Vec<(&str, u32)> = all.iter().map(|d| (d.name.as_str(), d.version)).collect();
        assert_eq!(seen, [("pay", 2), ("ship", 1)]);
        assert_eq!(all[0].descriptors, b"fds");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_racing_for_one_name_each_get_a_version() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let mut racing = tokio::task::JoinSet::new();
        for i in 0..8 {
            let store = store.clone();
            racing.spawn(async move {
                let digest = format!("d{i}");
                store
                    .register(new("race", &digest))
                    .await
                    .map(|r| r.definition.version)
            });
        }
        let mut versions: Vec<u32> = racing
            .join_all()
            .await
            .into_iter()
            .map(|r| r.expect("register"))
            .collect();
        versions.sort_unstable();
        assert_eq!(versions, (1..=8).collect::<Vec<u32>>());
    }
}

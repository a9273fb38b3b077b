use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use prost_types::FileDescriptorSet;
use service_kit::testing::fresh_urls;

use super::*;
use crate::store::{SqlStore, migrations};

async fn registries() -> (tempfile::TempDir, Vec<(Definitions, SqlStore)>) {
    let (dir, urls) = fresh_urls("defs.db").await;
    let schemas = Arc::new(ParticipantSchemas::built_in().expect("the contracts decode"));
    let mut all = Vec::new();
    for url in urls {
        let db = service_kit::db::Db::open_patiently(&url, &migrations(), Duration::ZERO)
            .await
            .expect("open the test store");
        let store = SqlStore::new(db, 8);
        all.push((
            Definitions::new(Arc::new(store.clone()), schemas.clone()),
            store,
        ));
    }
    (dir, all)
}

fn place_order() -> pb::SagaDefinition {
    file::from_json(PLACE_ORDER).expect("place-order.json reads")
}

#[tokio::test]
async fn the_built_in_definition_registers_once_and_a_changed_body_is_the_next_version() {
    let (_dir, registries) = registries().await;
    for (definitions, _) in registries {
        definitions.register_built_in().await.expect("built in");
        let again = definitions.register(&place_order()).await.expect("again");
        assert_eq!((again.version, again.created), (1, false));
        assert_eq!(again.digest, saga_definitions::digest(&place_order()));

        let mut changed = place_order();
        changed.description = "a new description".into();
        let v2 = definitions.register(&changed).await.expect("changed");
        assert_eq!((v2.version, v2.created), (2, true));

        let latest = definitions.get("place-order", None).await.expect("latest");
        assert_eq!(
            (latest.version, latest.definition.description.as_str()),
            (2, "a new description")
        );
        let v1 = definitions.get("place-order", Some(1)).await.expect("v1");
        assert_eq!(v1.definition, saga_definitions::canonical(&place_order()));
        let listed = definitions.list().await.expect("list");
        let listed: Vec<_> = listed
            .iter()
            .map(|d| (d.definition.name.as_str(), d.version))
            .collect();
        assert_eq!(listed, [("invoice-order", 1), ("place-order", 2)]);
        assert!(matches!(
            definitions.get("place-order", Some(3)).await,
            Err(DefinitionError::NotFound {
                version: Some(3),
                ..
            })
        ));
    }
}

#[tokio::test]
async fn a_definition_with_problems_is_refused_with_all_of_them_and_nothing_is_stored() {
    let (_dir, registries) = registries().await;
    for (definitions, _) in registries {
        let mut bad = place_order();
        bad.steps[0].action = "billing.v1.Billing/Charge".into();
        bad.steps[2].action_input = r#"{"order": 1}"#.into();
        let Err(DefinitionError::Invalid(problems)) = definitions.register(&bad).await else {
            panic!("a bad definition registered");
        };
        let locations: Vec<&str> = problems.iter().map(|p| p.location.as_str()).collect();
        assert!(locations.contains(&"steps[0].action"), "{locations:?}");
        assert!(
            locations.contains(&"steps[2].action_input.order"),
            "{locations:?}"
        );
        assert_eq!(definitions.validate(&bad).await.len(), problems.len());
        assert!(
            definitions.list().await.expect("list").is_empty(),
            "nothing stored"
        );
    }
}

#[tokio::test]
async fn a_service_without_a_participant_is_not_callable_though_its_schema_is_known() {
    let (_dir, registries) = registries().await;
    for (definitions, _) in registries {
        let mut own = place_order();
        own.steps[2].action = "saga.v1.Orchestrator/ListReplicas".into();
        own.steps[2].action_input = String::new();
        let problems = definitions.validate(&own).await;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].message,
            "no participant serves saga.v1.Orchestrator"
        );
    }
}

#[tokio::test]
async fn a_version_keeps_the_descriptors_it_was_checked_against() {
    let (_dir, registries) = registries().await;
    for (definitions, store) in registries {
        definitions.register_built_in().await.expect("built in");
        let stored = store.definition("place-order", Some(1)).await.expect("get");
        let set = FileDescriptorSet::decode(stored.expect("stored").descriptors.as_slice())
            .expect("descriptors decode");
        let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
        assert!(names.contains(&"orders/v1/orders.proto"), "{names:?}");
        assert!(names.contains(&"invoices/v1/invoices.proto"), "{names:?}");
        let pool = prost_reflect::DescriptorPool::decode(
            FileDescriptorSet {
                file: set.file.clone(),
            }
            .encode_to_vec()
            .as_slice(),
        )
        .expect("a pool of their own");
        assert!(saga_definitions::check(&place_order(), &pool).is_ok());
    }
}

/// A definition over orders.v1.Orders only.
fn orders_only() -> pb::SagaDefinition {
    let mut definition = place_order();
    definition.name = "orders-only".into();
    definition.steps.remove(1);
    definition.output_template = r#"{"order_id": "${steps.create_order.output.order_id}"}"#.into();
    definition
}

/// orders-svc in this process, on loopback until the guard drops.
async fn orders_svc() -> (tempfile::TempDir, tokio_util::sync::DropGuard, String) {
    let (dir, urls) = fresh_urls("o.db").await;
    let app = orders_svc::App::build(orders_svc::Config {
        listen: "127.0.0.1:0".into(),
        database_url: urls.into_iter().next().expect("a backend"),
        ..Default::default()
    })
    .await
    .expect("start orders-svc");
    let url = format!("http://{}", app.local_addr());
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(app.run_until(shutdown.clone()));
    (dir, shutdown.drop_guard(), url)
}

#[tokio::test]
async fn a_participants_schema_comes_by_reflection_once_it_answers() {
    let (_dir, _orders, url) = orders_svc().await;
    let participants = [("orders.v1.Orders".to_string(), url)];
    let schemas =
        Arc::new(ParticipantSchemas::new(false, &participants, &[], None).expect("schemas"));
    let before = saga_definitions::check(&orders_only(), schemas.as_ref());
    let problems = before.expect_err("nothing fetched yet");
    assert!(
        problems[0].message.contains("not known yet"),
        "{problems:?}"
    );
    schemas.refresh().await;
    let after = saga_definitions::check(&orders_only(), schemas.as_ref());
    assert!(after.is_ok(), "{:?}", after.err());
    let problems =
        saga_definitions::check(&place_order(), schemas.as_ref()).expect_err("no invoices");
    assert!(
        problems
            .iter()
            .all(|p| p.message == "no participant serves invoices.v1.Invoices"),
        "{problems:?}"
    );
}

#[tokio::test]
async fn a_descriptor_set_stands_in_for_a_participant_without_reflection() {
    let participants = [(
        "orders.v1.Orders".to_string(),
        "http://127.0.0.1:9".to_string(),
    )];
    let sets = [(
        "contracts.bin".to_string(),
        saga_contracts::FILE_DESCRIPTOR_SET.to_vec(),
    )];
    let schemas =
        Arc::new(ParticipantSchemas::new(false, &participants, &sets, None).expect("schemas"));
    schemas.refresh().await;
    let checked = saga_definitions::check(&orders_only(), schemas.as_ref());
    assert!(checked.is_ok(), "{:?}", checked.err());
    let bad = ParticipantSchemas::new(false, &[], &[("junk".to_string(), b"junk".to_vec())], None);
    assert!(matches!(bad, Err(SchemaError::Decode { .. })), "{bad:?}");
}

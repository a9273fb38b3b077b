//! Saga definitions over gRPC: the built-in place-order is registered at start-up; the
//! same body again is the same version, a changed body the next; a definition with
//! problems is INVALID_ARGUMENT naming every location and registers nothing;
//! validate_only answers the problems; versions read back, the latest listed.

use anyhow::Result;
use saga_contracts::saga::v1 as pb;
use saga_tests::{Backend, Cluster, ClusterOptions, on_every_backend};
use tonic::Code;

const PLACE_ORDER: &str = include_str!("../../definitions/place-order.json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_are_checked_registered_versioned_and_listed() -> Result<()> {
    on_every_backend(scenario).await
}

fn register(definition: &pb::SagaDefinition, validate_only: bool) -> pb::RegisterDefinitionRequest {
    pb::RegisterDefinitionRequest {
        definition: Some(definition.clone()),
        validate_only,
    }
}

async fn scenario(backend: Backend) -> Result<()> {
    let cluster = Cluster::start(ClusterOptions::default().backend(backend)).await?;
    let mut client = cluster.orchestrator();
    let place_order = saga_definitions::file::from_json(PLACE_ORDER)?;

    let listed = client
        .list_definitions(pb::ListDefinitionsRequest {})
        .await?
        .into_inner();
    let names: Vec<(String, u32)> = listed
        .definitions
        .iter()
        .map(|d| (d.definition.clone().unwrap_or_default().name, d.version))
        .collect();
    assert_eq!(
        names,
        [
            ("invoice-order".to_string(), 1),
            ("place-order".to_string(), 1)
        ],
        "built in at start-up"
    );

    let again = client
        .register_definition(register(&place_order, false))
        .await?
        .into_inner();
    assert_eq!((again.version, again.created), (1, false));
    let mut changed = place_order.clone();
    changed.steps[2].retry = Some(pb::RetryPolicy {
        max_attempts: 50,
        ..pb::RetryPolicy::default()
    });
    let v2 = client
        .register_definition(register(&changed, false))
        .await?
        .into_inner();
    assert_eq!((v2.version, v2.created), (2, true));
    assert_ne!(v2.digest, again.digest);

    let mut bad = place_order.clone();
    bad.name = "Bad Name".into();
    bad.steps[1].action_input =
        r#"{"amount_cents": "${steps.create_order.output.order_id}"}"#.into();
    bad.steps[2].compensation = "orders.v1.Orders/CancelOrder".into();
    let refused = client
        .register_definition(register(&bad, false))
        .await
        .expect_err("a definition with problems");
    assert_eq!(refused.code(), Code::InvalidArgument);
    for location in [
        "name: ",
        "steps[1].action_input.amount_cents: ",
        "steps[2].kind: ",
    ] {
        assert!(
            refused.message().contains(location),
            "{location} in {:?}",
            refused.message()
        );
    }
    let validated = client
        .register_definition(register(&bad, true))
        .await?
        .into_inner();
    let locations: Vec<&str> = validated
        .problems
        .iter()
        .map(|p| p.location.as_str())
        .collect();
    assert_eq!(
        locations,
        [
            "name",
            "steps[1].action_input.amount_cents",
            "steps[2].kind",
            "steps[2].compensation",
        ]
    );
    assert_eq!(validated.version, 0);
    let clean = client
        .register_definition(register(&changed, true))
        .await?
        .into_inner();
    assert_eq!((clean.problems.len(), clean.digest), (0, v2.digest.clone()));

    let latest = client
        .get_definition(pb::GetDefinitionRequest {
            name: "place-order".into(),
            version: 0,
        })
        .await?
        .into_inner();
    assert_eq!((latest.version, latest.digest), (2, v2.digest));
    let v1 = client
        .get_definition(pb::GetDefinitionRequest {
            name: "place-order".into(),
            version: 1,
        })
        .await?
        .into_inner();
    assert_eq!(
        v1.definition,
        Some(saga_definitions::canonical(&place_order))
    );
    let missing = client
        .get_definition(pb::GetDefinitionRequest {
            name: "place-order".into(),
            version: 9,
        })
        .await
        .expect_err("no version 9");
    assert_eq!(missing.code(), Code::NotFound);
    let listed = client
        .list_definitions(pb::ListDefinitionsRequest {})
        .await?
        .into_inner();
    let versions: Vec<(String, u32)> = listed
        .definitions
        .iter()
        .map(|d| (d.definition.clone().unwrap_or_default().name, d.version))
        .collect();
    assert_eq!(
        versions,
        [
            ("invoice-order".to_string(), 1),
            ("place-order".to_string(), 2)
        ],
        "nothing of the bad one registered"
    );
    Ok(())
}

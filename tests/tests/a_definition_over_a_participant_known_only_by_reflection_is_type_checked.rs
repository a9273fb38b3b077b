//! A four-step definition over a participant the orchestrator has no generated code for
//! (`inventory-svc`, named by `--participant` and known only by its server reflection):
//! it registers, and the same definition with a wrong type or a field the participant's
//! messages lack is refused naming the location, with nothing registered.

use anyhow::{Context, Result};
use saga_contracts::saga::v1 as pb;
use saga_tests::binaries::bin_dir;
use saga_tests::process::ServiceProcess;
use saga_tests::{Backend, Cluster, ClusterOptions};
use tonic::Code;

const ORDER_WITH_STOCK: &str = include_str!("../../definitions/examples/order-with-stock.json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_definition_over_a_participant_known_only_by_reflection_is_type_checked() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let inventory_bin = bin_dir()?.join("inventory-svc");
    let database = format!("sqlite://{}", dir.path().join("inventory.db").display());
    let args = ["--listen", "127.0.0.1:0", "--database-url", &database].map(String::from);
    let inventory = ServiceProcess::spawn(
        "inventory-svc",
        &inventory_bin,
        &args,
        &dir.path().join("inventory-svc.log"),
    )
    .await
    .context("build the workspace's binaries: cargo build --workspace")?;
    let options = ClusterOptions::default()
        .backend(Backend::Sqlite)
        .orchestrator_arg(format!(
            "--participant=inventory.v1.Inventory={}",
            inventory.url()
        ));
    let cluster = Cluster::start(options).await?;
    let mut client = cluster.orchestrator();
    let definition = saga_definitions::file::from_json(ORDER_WITH_STOCK)?;
    let register = |definition: &pb::SagaDefinition| pb::RegisterDefinitionRequest {
        definition: Some(definition.clone()),
        validate_only: false,
    };

    let registered = client
        .register_definition(register(&definition))
        .await?
        .into_inner();
    assert_eq!((registered.version, registered.created), (1, true));

    let mut wrong = definition.clone();
    wrong.name = "order-with-wrong-stock".into();
    wrong.steps[1].action_input =
        r#"{"saga_id": "${saga.id}", "sku": "${input.items[0].sku}", "quantity": "${steps.create_order.output.customer_id}", "bin": 3}"#.into();
    let refused = client
        .register_definition(register(&wrong))
        .await
        .expect_err("a wrong type and an unknown field");
    assert_eq!(refused.code(), Code::InvalidArgument);
    for expected in [
        "steps[1].action_input.quantity: steps.create_order.output.customer_id is string, but the field is uint32",
        "steps[1].action_input.bin: inventory.v1.ReserveRequest has no field bin",
    ] {
        assert!(
            refused.message().contains(expected),
            "{expected:?} in {:?}",
            refused.message()
        );
    }
    let listed = client
        .list_definitions(pb::ListDefinitionsRequest {})
        .await?
        .into_inner();
    let names: Vec<String> = listed
        .definitions
        .into_iter()
        .filter_map(|d| d.definition.map(|d| d.name))
        .collect();
    assert_eq!(names, ["invoice-order", "order-with-stock", "place-order"]);
    drop(inventory);
    Ok(())
}

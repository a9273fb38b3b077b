//! Against a real orders-svc on loopback (in this process): its schema by reflection, and a create and a
//! cancel made with dynamic messages carrying the saga metadata.

use std::time::Duration;

use prost_reflect::DynamicMessage;
use serde_json::json;
use service_kit::testing::fresh_urls;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::transport::{Channel, Endpoint};

use super::*;

const TIMEOUT: Duration = Duration::from_secs(5);

/// orders-svc in this process on a fresh SQLite file, served on loopback until the
/// token is cancelled.
async fn orders() -> (tempfile::TempDir, DropGuard, Channel) {
    let (dir, urls) = fresh_urls("o.db").await;
    let url = urls.into_iter().next().expect("a backend");
    let app = orders_svc::App::build(orders_svc::Config {
        listen: "127.0.0.1:0".into(),
        database_url: url,
        ..Default::default()
    })
    .await
    .expect("start orders-svc");
    let address = format!("http://{}", app.local_addr());
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run_until(shutdown.clone()));
    let channel = Endpoint::from_shared(address)
        .expect("a url")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connects");
    (dir, shutdown.drop_guard(), channel)
}

#[tokio::test]
async fn a_participant_is_called_by_its_reflected_schema_with_dynamic_messages() {
    let (_dir, _process, channel) = orders().await;
    let pool = reflection::fetch(channel.clone(), "orders.v1.Orders")
        .await
        .expect("the schema by reflection");
    let service = pool
        .get_service_by_name("orders.v1.Orders")
        .expect("the service");
    let create = service
        .methods()
        .find(|m| m.name() == "CreateOrder")
        .expect("CreateOrder");
    let request = DynamicMessage::deserialize(
        create.input(),
        json!({"saga_id": "s-1", "customer_id": "c", "currency": "EUR",
               "items": [{"sku": "A", "quantity": 2, "unit_price_cents": 250}]}),
    )
    .expect("a request");
    let metadata = CallMetadata {
        saga_id: "s-1",
        step: "create_order",
        operation: Operation::Action,
    };
    let order = call(
        channel.clone(),
        &create,
        request.clone(),
        &metadata,
        TIMEOUT,
    )
    .await
    .expect("created");
    let order = saga_definitions::request::output_json(&order);
    assert_eq!(
        (order["total_cents"].clone(), order["status"].clone()),
        (json!("500"), json!("ORDER_STATUS_PENDING"))
    );
    let again = call(channel, &create, request, &metadata, TIMEOUT)
        .await
        .expect("a repeat");
    assert_eq!(
        saga_definitions::request::output_json(&again),
        order,
        "the first result"
    );
    assert_eq!(metadata.idempotency_key(), "s-1:create_order:action");
}

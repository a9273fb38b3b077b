//! An order event the orchestrator can make nothing of (undecodable bytes, or a type it
//! does not know) is delivered a bounded number of times and then moved to the dead-letter
//! stream, with why, and counted in the orchestrator's metrics; the events after it are
//! still consumed.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use async_nats::jetstream;
use saga_contracts::orders::v1::OrderEvent;
use saga_tests::chaos::setup::free_ports;
use saga_tests::direct::{placed, settled};
use saga_tests::http::{get, sample};
use saga_tests::nats::NatsServer;
use saga_tests::poll::{Check, eventually};
use saga_tests::{Backend, Cluster, ClusterOptions};
use service_kit::broker::{DEAD_LETTER_STREAM, EVENTS_PREFIX};
use tonic_prost::prost::Message;

const PATIENCE: Duration = Duration::from_secs(60);
/// `orchestrator::metrics::DEAD_LETTERS`.
const DEAD_LETTERS: &str = "saga_order_events_dead_lettered_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_order_event_is_moved_to_the_dead_letters() -> Result<()> {
    let Some(nats) = NatsServer::start().await? else {
        return Ok(());
    };
    let [http] = free_ports(1)?[..] else {
        bail!("no free port");
    };
    let cluster = Cluster::start(
        ClusterOptions::default()
            .backend(Backend::Sqlite)
            .nats_url(nats.url())
            .orchestrator_arg("--invoice-trigger=events")
            .orchestrator_arg(format!("--http-listen={http}")),
    )
    .await?;
    let client = async_nats::connect(nats.url()).await?;
    let context = jetstream::new(client);
    // The relay creates the streams; wait for them through one real order.
    cluster
        .orders()
        .place_order(placed("first", 1, 100))
        .await?;
    eventually(PATIENCE, "the first order settled", || settled(&cluster)).await?;

    let garbage = context
        .publish(
            format!("{EVENTS_PREFIX}.order-created"),
            vec![0xff, 0x01].into(),
        )
        .await?;
    garbage.await?;
    let unknown = OrderEvent {
        event_id: 999_999,
        r#type: "order-teleported".into(),
        ..Default::default()
    };
    let sent = context
        .publish(
            format!("{EVENTS_PREFIX}.order-teleported"),
            unknown.encode_to_vec().into(),
        )
        .await?;
    sent.await?;
    cluster
        .orders()
        .place_order(placed("after", 1, 100))
        .await?;

    let dead = eventually(PATIENCE, "two dead letters", || async {
        let mut stream = context.get_stream(DEAD_LETTER_STREAM).await?;
        let messages = stream.info().await?.state.messages;
        Ok(match messages {
            2.. => Check::Done(messages),
            n => Check::NotYet(format!("{n} dead letters")),
        })
    })
    .await?;
    ensure!(dead == 2, "{dead} dead letters");
    let stream = context.get_stream(DEAD_LETTER_STREAM).await?;
    let letter = stream
        .get_last_raw_message_by_subject("orders.dead-letter.undecodable")
        .await;
    let letter = letter.context("the undecodable event's letter")?;
    let reason = letter
        .headers
        .get("Saga-Dead-Reason")
        .map(|v| v.to_string())
        .unwrap_or_default();
    ensure!(reason.contains("undecodable"), "{reason:?}");
    let after = eventually(PATIENCE, "the later order settled", || settled(&cluster)).await?;
    ensure!(after.confirmed == 2, "{after:?}");
    // Counted just after the letter is stored: the count may trail the stream a moment.
    let created = r#"saga_order_events_total{source="nats",type="order-created"}"#;
    eventually(PATIENCE, "the dead letters counted", || async {
        let metrics = get(http, "/metrics").await?;
        let count = |name: &str| sample(&metrics, name).unwrap_or(0.0);
        Ok(match (count(DEAD_LETTERS), count(created)) {
            (2.0, 2.0) => Check::Done(()),
            (dead, events) => Check::NotYet(format!(
                "{dead} dead letters, {events} events counted in:\n{metrics}"
            )),
        })
    })
    .await?;
    Ok(())
}

//! The invoices operations on a fresh database per test: refusals record nothing, repeats
//! replay, listings page.

use saga_contracts::invoices::v1 as proto;

use super::*;
use crate::domain::InvoiceStatus;
use crate::plan::InvoicesPlan;

const LIMIT: i64 = 1_000;

fn writer(db: &Db) -> Writer {
    let plan = InvoicesPlan {
        max_invoice_cents: LIMIT,
    };
    Writer::with_plan(db.clone(), 8, plan)
}

async fn databases() -> (tempfile::TempDir, Vec<Db>) {
    service_kit::testing::databases(&crate::startup::MIGRATIONS).await
}

fn new_invoice(saga_id: &str, order_id: &str, amount_cents: i64) -> NewInvoice {
    NewInvoice {
        saga_id: saga_id.into(),
        order_id: order_id.into(),
        customer_id: "c".into(),
        amount_cents,
        currency: "EUR".into(),
    }
}

fn code(result: Result<impl std::fmt::Debug, ApiError>) -> tonic::Code {
    tonic::Status::from(result.expect_err("expected a refusal")).code()
}

#[tokio::test]
async fn an_invoice_over_the_limit_is_refused_and_recorded_nowhere() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = writer(&db);
        let over = create_invoice(&writer, new_invoice("s-1", "o-1", LIMIT + 1)).await;
        assert_eq!(code(over), tonic::Code::FailedPrecondition);
        let at_limit = create_invoice(&writer, new_invoice("s-1", "o-1", LIMIT))
            .await
            .expect("a retry within the limit goes through");
        assert_eq!(at_limit.status(), proto::InvoiceStatus::Issued);
    }
}

#[tokio::test]
async fn a_repeated_create_replays_the_first_invoice() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = writer(&db);
        let first = create_invoice(&writer, new_invoice("s-1", "o-1", 10))
            .await
            .expect("create");
        let again = create_invoice(&writer, new_invoice("s-1", "o-1", 20))
            .await
            .expect("repeat");
        assert_eq!(again, first);
        assert_eq!(
            get_invoice(&db, &first.invoice_id).await.expect("get"),
            first
        );
    }
}

#[tokio::test]
async fn a_void_after_create_voids_and_refuses_another_invoice_id() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = writer(&db);
        let issued = create_invoice(&writer, new_invoice("s-1", "o-1", 10))
            .await
            .expect("create");
        let wrong = VoidInvoice {
            saga_id: "s-1".into(),
            invoice_id: Some("other".into()),
        };
        assert_eq!(
            code(void_invoice(&writer, wrong).await),
            tonic::Code::FailedPrecondition
        );
        let void = VoidInvoice {
            saga_id: "s-1".into(),
            invoice_id: None,
        };
        let voided = void_invoice(&writer, void.clone()).await.expect("void");
        let expected = proto::Invoice {
            status: proto::InvoiceStatus::Voided.into(),
            ..issued
        };
        assert_eq!(voided.invoice, Some(expected));
        assert_eq!(void_invoice(&writer, void).await.expect("repeat"), voided);
    }
}

#[tokio::test]
async fn a_void_before_create_leaves_a_tombstone_that_refuses_the_create() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = writer(&db);
        let void = VoidInvoice {
            saga_id: "s-1".into(),
            invoice_id: None,
        };
        let tombstone = void_invoice(&writer, void).await.expect("void");
        assert_eq!(tombstone, proto::VoidInvoiceResponse { invoice: None });
        let late = create_invoice(&writer, new_invoice("s-1", "o-1", 10)).await;
        assert_eq!(code(late), tonic::Code::FailedPrecondition);
    }
}

#[tokio::test]
async fn listings_filter_and_page_in_creation_order() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = writer(&db);
        let mut created = Vec::new();
        for i in 0..5 {
            let order = if i % 2 == 0 { "o-even" } else { "o-odd" };
            let invoice = create_invoice(&writer, new_invoice(&format!("s-{i}"), order, 10))
                .await
                .expect("create");
            created.push(invoice);
        }
        let filter = |after_seq| InvoiceFilter {
            order_id: Some("o-even".into()),
            customer_id: Some("c".into()),
            status: Some(InvoiceStatus::Issued),
            saga_id: None,
            after_seq,
            page_size: 2,
        };
        let first = list_invoices(&db, filter(None)).await.expect("page 1");
        assert_eq!(first.invoices, vec![created[0].clone(), created[2].clone()]);
        let after = paging::decode_token(&first.next_page_token).expect("token");
        let second = list_invoices(&db, filter(after)).await.expect("page 2");
        assert_eq!(second.invoices, vec![created[4].clone()]);
        assert_eq!(second.next_page_token, "");
    }
}

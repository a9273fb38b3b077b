//! Table tests of request validation: each bad request is refused naming its field.

use saga_contracts::invoices::v1 as proto;

use crate::domain::{InvoiceFilter, InvoiceStatus, NewInvoice, VoidInvoice};
use crate::error::ApiError;

fn good() -> proto::CreateInvoiceRequest {
    proto::CreateInvoiceRequest {
        saga_id: "s-1".into(),
        order_id: "o-1".into(),
        customer_id: "c-1".into(),
        amount_cents: 400,
        currency: "EUR".into(),
    }
}

#[test]
fn a_good_create_is_accepted() {
    assert_eq!(
        NewInvoice::try_from(good()).expect("valid"),
        NewInvoice {
            saga_id: "s-1".into(),
            order_id: "o-1".into(),
            customer_id: "c-1".into(),
            amount_cents: 400,
            currency: "EUR".into(),
        }
    );
}

#[test]
fn each_bad_create_names_its_field() {
    type Edit = fn(&mut proto::CreateInvoiceRequest);
    let cases: [(Edit, &str); 8] = [
        (|r| r.saga_id.clear(), "saga_id"),
        (|r| r.saga_id = "s".repeat(129), "saga_id"),
        (|r| r.order_id.clear(), "order_id"),
        (|r| r.customer_id.clear(), "customer_id"),
        (|r| r.amount_cents = 0, "amount_cents"),
        (|r| r.amount_cents = -1, "amount_cents"),
        (|r| r.currency = "Eur".into(), "currency"),
        (|r| r.currency = "EU".into(), "currency"),
    ];
    for (edit, field) in cases {
        let mut request = good();
        edit(&mut request);
        match NewInvoice::try_from(request) {
            Err(ApiError::Invalid { field: named, .. }) => assert_eq!(named, field),
            other => panic!("expected {field} to be refused, got {other:?}"),
        }
    }
}

#[test]
fn a_void_needs_a_saga_but_not_an_invoice_id() {
    let request = proto::VoidInvoiceRequest {
        saga_id: "s-1".into(),
        invoice_id: String::new(),
    };
    assert_eq!(
        VoidInvoice::try_from(request).expect("valid"),
        VoidInvoice {
            saga_id: "s-1".into(),
            invoice_id: None
        }
    );
    let anonymous = proto::VoidInvoiceRequest::default();
    assert!(
        matches!(VoidInvoice::try_from(anonymous), Err(ApiError::Invalid { field, .. }) if field == "saga_id")
    );
}

#[test]
fn a_list_reads_its_filters_and_refuses_foreign_tokens() {
    let request = proto::ListInvoicesRequest {
        order_id: "o-1".into(),
        customer_id: String::new(),
        status: proto::InvoiceStatus::Voided.into(),
        page_size: 3,
        page_token: String::new(),
        saga_id: "s-1".into(),
    };
    assert_eq!(
        InvoiceFilter::try_from(request.clone()).expect("valid"),
        InvoiceFilter {
            order_id: Some("o-1".into()),
            customer_id: None,
            status: Some(InvoiceStatus::Voided),
            saga_id: Some("s-1".into()),
            after_seq: None,
            page_size: 3,
        }
    );
    let foreign = proto::ListInvoicesRequest {
        page_token: "x".into(),
        ..request
    };
    assert!(
        matches!(InvoiceFilter::try_from(foreign), Err(ApiError::Invalid { field, .. }) if field == "page_token")
    );
}

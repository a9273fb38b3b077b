//! Orders are a pure function of the seed and their number, over the limit exactly when
//! drawn so.

use super::*;

fn settings(share: f64) -> LoadSettings {
    LoadSettings {
        run_seed: 3,
        load_seed: 4,
        concurrency: 1,
        wait_ms: 50,
        over_limit_share: share,
        max_invoice_cents: 1_000_000,
        call_timeout: Duration::from_secs(1),
        think: Duration::ZERO,
    }
}

#[test]
fn orders_are_reproducible_unique_and_over_the_limit_exactly_when_drawn_so() {
    let s = settings(0.3);
    let orders: Vec<(PlaceOrderRequest, bool)> = (0..400).map(|n| order_for(&s, n)).collect();
    assert_eq!(
        orders,
        (0..400).map(|n| order_for(&s, n)).collect::<Vec<_>>()
    );
    let keys: std::collections::BTreeSet<&str> = orders
        .iter()
        .map(|(r, _)| r.idempotency_key.as_str())
        .collect();
    assert_eq!(keys.len(), 400);
    for (request, over) in &orders {
        assert_eq!(
            total_cents(request) > s.max_invoice_cents,
            *over,
            "{request:?}"
        );
    }
    let over = orders.iter().filter(|(_, o)| *o).count();
    assert!((80..160).contains(&over), "{over} of 400 over the limit");
}

#[test]
fn a_zero_share_places_no_order_over_the_limit() {
    let s = settings(0.0);
    assert!((0..200).all(|n| !order_for(&s, n).1));
}

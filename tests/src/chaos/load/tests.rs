//! Orders are a pure function of the seed and their number, over the limit exactly when
//! drawn so.

use super::*;

fn settings(share: f64) -> LoadSettings {
    LoadSettings {
        run_seed: 3,
        load_seed: 4,
        concurrency: 1,
        wait_ms: 50,
        flow: Flow::PlaceOrder,
        pattern: Pattern::Orchestrated,
        update_share: 0.3,
        withdraw_share: 0.3,
        over_limit_share: share,
        refused_share: 0.0,
        max_invoice_cents: 1_000_000,
        call_timeout: Duration::from_secs(1),
        think: Duration::ZERO,
    }
}

#[test]
fn orders_are_reproducible_unique_and_over_the_limit_exactly_when_drawn_so() {
    let s = settings(0.3);
    let orders: Vec<(PlaceOrderRequest, bool)> = (0..400)
        .map(|n| order_for(&s, n))
        .map(|d| (d.request, d.over_limit))
        .collect();
    assert_eq!(
        orders,
        (0..400)
            .map(|n| order_for(&s, n))
            .map(|d| (d.request, d.over_limit))
            .collect::<Vec<_>>()
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
    assert!((0..200).all(|n| !order_for(&s, n).over_limit));
}

#[test]
fn a_four_step_campaign_places_the_same_orders_and_refuses_some_reservations() {
    let plain = settings(0.3);
    let stock = LoadSettings {
        flow: Flow::OrderWithStock,
        refused_share: 0.2,
        ..settings(0.3)
    };
    let mut refused = 0;
    for n in 0..400 {
        let (a, b) = (order_for(&plain, n), order_for(&stock, n));
        assert_eq!(a.over_limit, b.over_limit);
        assert!(!(b.refused && b.over_limit));
        match b.refused {
            true => {
                refused += 1;
                assert_eq!(b.request.items[0].quantity, REFUSED_QUANTITY);
            }
            false => assert_eq!(a.request, b.request),
        }
    }
    assert!((30..130).contains(&refused), "{refused} of 400 refused");
}

#[test]
fn a_direct_campaign_places_the_same_orders_and_changes_some_of_them() {
    let plain = settings(0.3);
    let direct = LoadSettings {
        pattern: Pattern::Sync,
        ..settings(0.3)
    };
    let mut changes = BTreeMap::new();
    for n in 0..400 {
        let (a, b) = (order_for(&plain, n), order_for(&direct, n));
        assert_eq!((a.request, a.change, a.direct), (b.request, None, false));
        assert!(b.direct);
        *changes.entry(format!("{:?}", b.change)).or_insert(0) += 1;
    }
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!((80..160).contains(&changes["Some(Update)"]), "{changes:?}");
}

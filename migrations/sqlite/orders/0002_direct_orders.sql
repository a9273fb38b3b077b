-- Orders placed by clients directly (no creating saga), their versions, and the outbox
-- their events commit into. SQLite cannot drop NOT NULL in place: the table is rebuilt.
CREATE TABLE orders_next (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id        TEXT    NOT NULL UNIQUE,
    saga_id         TEXT    UNIQUE, -- the creating saga; NULL for an order placed directly
    idempotency_key TEXT    UNIQUE, -- the PlaceOrder key; NULL for an order a saga created
    placed_as       TEXT,           -- JSON of the PlaceOrder request, to tell its repeats
    customer_id     TEXT    NOT NULL,
    items           TEXT    NOT NULL, -- JSON array of {sku, quantity, unit_price_cents}
    total_cents     INTEGER NOT NULL,
    currency        TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'CANCELLED')),
    version         INTEGER NOT NULL DEFAULT 1,
    confirmed_by    TEXT,           -- the saga that confirmed an order placed directly
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    CHECK ((saga_id IS NULL) <> (idempotency_key IS NULL))
);
INSERT INTO orders_next (seq, order_id, saga_id, customer_id, items, total_cents, currency,
                         status, created_at_ms, updated_at_ms)
SELECT seq, order_id, saga_id, customer_id, items, total_cents, currency, status,
       created_at_ms, updated_at_ms
FROM orders;
DROP TABLE orders;
ALTER TABLE orders_next RENAME TO orders;
CREATE INDEX orders_customer ON orders (customer_id, seq);
CREATE INDEX orders_changed ON orders (updated_at_ms, order_id);

-- The outbox: one row per event of an order placed directly, written in the order's
-- own transaction. The relay sets published_at_ms once the broker has acked the event.
CREATE TABLE order_outbox (
    event_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    aggregate_type  TEXT    NOT NULL,
    aggregate_id    TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    payload         BLOB    NOT NULL, -- the order, an encoded orders.v1.Order
    created_at_ms   INTEGER NOT NULL,
    published_at_ms INTEGER
);
CREATE INDEX order_outbox_unpublished ON order_outbox (event_id) WHERE published_at_ms IS NULL;

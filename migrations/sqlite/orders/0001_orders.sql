-- Orders, one per saga, and the idempotency barrier of the orders participant.
CREATE TABLE orders (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    TEXT    NOT NULL UNIQUE,
    saga_id     TEXT    NOT NULL UNIQUE,
    customer_id TEXT    NOT NULL,
    items       TEXT    NOT NULL, -- JSON array of {sku, quantity, unit_price_cents}
    total_cents INTEGER NOT NULL,
    currency    TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'CANCELLED')),
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id, seq);

-- One row per (saga, operation): the first answer, replayed to every repeat; a
-- compensation row with no action row is a tombstone.
CREATE TABLE saga_barrier (
    saga_id       TEXT    NOT NULL,
    op            TEXT    NOT NULL,
    response      BLOB,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (saga_id, op)
);

-- Invoices, at most one per saga, and the idempotency barrier of the invoices participant.
CREATE TABLE invoices (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id   TEXT    NOT NULL UNIQUE,
    saga_id      TEXT    NOT NULL UNIQUE,
    order_id     TEXT    NOT NULL,
    customer_id  TEXT    NOT NULL,
    amount_cents INTEGER NOT NULL,
    currency     TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('ISSUED', 'VOIDED')),
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX invoices_order ON invoices (order_id, seq);
CREATE INDEX invoices_customer ON invoices (customer_id, seq);

-- One row per (saga, operation): the first answer, replayed to every repeat; a
-- compensation row with no action row is a tombstone.
CREATE TABLE saga_barrier (
    saga_id       TEXT    NOT NULL,
    op            TEXT    NOT NULL,
    response      BLOB,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (saga_id, op)
);

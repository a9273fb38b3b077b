-- Reservations, one per saga, and the idempotency barrier of the inventory participant.
CREATE TABLE reservations (
    seq BIGSERIAL PRIMARY KEY,
    reservation_id TEXT    NOT NULL UNIQUE,
    saga_id        TEXT    NOT NULL UNIQUE,
    sku            TEXT    NOT NULL,
    quantity       BIGINT NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('HELD', 'RELEASED'))
);

-- One row per (saga, operation): the first answer, replayed to every repeat; a
-- compensation row with no action row is a tombstone.
CREATE TABLE saga_barrier (
    saga_id       TEXT    NOT NULL,
    op            TEXT    NOT NULL,
    response      BYTEA,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (saga_id, op)
);

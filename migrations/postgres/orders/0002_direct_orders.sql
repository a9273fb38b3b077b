-- Orders placed by clients directly (no creating saga), their versions, and the outbox
-- their events commit into. Same shape as migrations/sqlite/orders.
ALTER TABLE orders ALTER COLUMN saga_id DROP NOT NULL;
ALTER TABLE orders ADD COLUMN idempotency_key TEXT UNIQUE;
ALTER TABLE orders ADD COLUMN placed_as TEXT;
ALTER TABLE orders ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE orders ADD COLUMN confirmed_by TEXT;
ALTER TABLE orders ADD CONSTRAINT orders_one_origin
    CHECK ((saga_id IS NULL) <> (idempotency_key IS NULL));
CREATE INDEX orders_changed ON orders (updated_at_ms, order_id);

CREATE TABLE order_outbox (
    event_id        BIGSERIAL PRIMARY KEY,
    aggregate_type  TEXT   NOT NULL,
    aggregate_id    TEXT   NOT NULL,
    type            TEXT   NOT NULL,
    payload         BYTEA  NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    published_at_ms BIGINT
);
CREATE INDEX order_outbox_unpublished ON order_outbox (event_id) WHERE published_at_ms IS NULL;

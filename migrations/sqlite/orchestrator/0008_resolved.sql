-- A FAILED saga that an operator repaired by hand ends RESOLVED. SQLite cannot change a
-- CHECK constraint in place: the sagas table is rebuilt with the same columns, rows,
-- sequence and indexes.
CREATE TABLE sagas_resolvable (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    saga_id            TEXT    NOT NULL UNIQUE,
    idempotency_key    TEXT    NOT NULL UNIQUE,
    input              TEXT    NOT NULL,
    state              TEXT    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('RUNNING', 'COMPENSATING', 'COMPLETED', 'COMPENSATED', 'FAILED', 'RESOLVED')),
    version            INTEGER NOT NULL,
    log_len            INTEGER NOT NULL,
    created_at_ms      INTEGER NOT NULL,
    updated_at_ms      INTEGER NOT NULL,
    owner              TEXT    NOT NULL DEFAULT '',
    lease_until_ms     INTEGER NOT NULL DEFAULT 0,
    definition         TEXT    NOT NULL DEFAULT 'place-order',
    definition_version INTEGER NOT NULL DEFAULT 1
);
INSERT INTO sagas_resolvable (seq, saga_id, idempotency_key, input, state, status, version,
    log_len, created_at_ms, updated_at_ms, owner, lease_until_ms, definition,
    definition_version)
SELECT seq, saga_id, idempotency_key, input, state, status, version, log_len,
    created_at_ms, updated_at_ms, owner, lease_until_ms, definition, definition_version
FROM sagas;
DROP TABLE sagas;
ALTER TABLE sagas_resolvable RENAME TO sagas;
CREATE INDEX sagas_status ON sagas (status, seq);
CREATE INDEX sagas_lease ON sagas (status, lease_until_ms);

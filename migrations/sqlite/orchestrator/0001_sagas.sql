-- The durable saga log: one row per saga (its current state) and its append-only log.
CREATE TABLE sagas (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    saga_id         TEXT    NOT NULL UNIQUE,
    idempotency_key TEXT    NOT NULL UNIQUE,
    request         TEXT    NOT NULL, -- JSON: the validated order
    state           TEXT    NOT NULL, -- JSON: the saga state machine's state
    status          TEXT    NOT NULL CHECK (status IN ('RUNNING', 'COMPENSATING', 'COMPLETED', 'COMPENSATED', 'FAILED')),
    -- Bumped by every write; a write names the version it read, so a writer that lost
    -- the saga to another (a fencing token, for replicas) cannot overwrite it.
    version         INTEGER NOT NULL,
    log_len         INTEGER NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL
);
CREATE INDEX sagas_status ON sagas (status, seq);

CREATE TABLE saga_log (
    saga_id TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    step    TEXT    NOT NULL,
    outcome TEXT    NOT NULL,
    attempt INTEGER NOT NULL,
    detail  TEXT    NOT NULL,
    status  TEXT    NOT NULL,
    at_ms   INTEGER NOT NULL,
    PRIMARY KEY (saga_id, seq)
) WITHOUT ROWID;

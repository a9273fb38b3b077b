-- Each orchestrator process registers an incarnation of its replica id at start: the
-- first, or one more than the last. An older process still running under the same id
-- finds its incarnation superseded at its next heartbeat and stops driving, and its
-- renewals are refused, as a stale saga write is refused by the version. Times are the
-- database's, in milliseconds since the epoch.
CREATE TABLE replicas (
    replica_id    TEXT    PRIMARY KEY,
    incarnation   INTEGER NOT NULL,
    started_at_ms INTEGER NOT NULL,
    heartbeat_ms  INTEGER NOT NULL
);

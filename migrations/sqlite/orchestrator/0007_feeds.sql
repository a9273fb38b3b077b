-- Feeds of work from outside the orchestrator: the invoice trigger's event consumer and
-- its sync sweep. One row per feed: how far it has got (its position, as the feed spells
-- it) and which process follows it, under a lease, so that one replica at a time does.
CREATE TABLE feeds (
    name           TEXT   PRIMARY KEY,
    position       TEXT   NOT NULL DEFAULT '',
    holder         TEXT,
    lease_until_ms INTEGER NOT NULL DEFAULT 0,
    updated_at_ms  INTEGER NOT NULL DEFAULT 0
);

-- Ownership of unfinished sagas by orchestrator replicas: the owner renews its lease;
-- another replica may claim a saga whose lease expired (and bumps its version, which
-- fences the old owner's writes).
ALTER TABLE sagas ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE sagas ADD COLUMN lease_until_ms BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sagas_lease ON sagas (status, lease_until_ms);

-- Registered saga definitions, shared by every replica. A version is immutable: the
-- canonical body (a protobuf-encoded saga.v1.SagaDefinition) and the descriptors it was
-- checked against (an encoded FileDescriptorSet of the methods' files), so a saga pinned
-- to it runs the same way after newer versions, restarts and takeovers, whatever the
-- participants serve by then. The same body under a name is one version (its digest).
CREATE TABLE definitions (
    name             TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    digest           TEXT    NOT NULL,
    body             BLOB   NOT NULL,
    descriptors      BLOB   NOT NULL,
    registered_at_ms INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE UNIQUE INDEX definitions_by_digest ON definitions (name, digest);

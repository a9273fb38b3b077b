-- Sagas of any registered definition: each row names its definition and the version it
-- is pinned to from its start, and keeps its input (before definitions: the validated
-- order); each log record says whether it is about a step's action or its
-- compensation. Rows written before definitions are sagas of the built-in place-order
-- definition, version 1, whose compensations are logged as void_invoice and
-- cancel_order.
ALTER TABLE sagas RENAME COLUMN request TO input;
ALTER TABLE sagas ADD COLUMN definition TEXT NOT NULL DEFAULT 'place-order';
ALTER TABLE sagas ADD COLUMN definition_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE saga_log ADD COLUMN operation TEXT NOT NULL DEFAULT '';
UPDATE saga_log SET operation = CASE
    WHEN step = 'saga' THEN ''
    WHEN step IN ('void_invoice', 'cancel_order') THEN 'compensation'
    ELSE 'action'
END;

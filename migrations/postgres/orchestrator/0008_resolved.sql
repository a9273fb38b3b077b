-- A FAILED saga that an operator repaired by hand ends RESOLVED.
ALTER TABLE sagas
    DROP CONSTRAINT sagas_status_check,
    ADD CONSTRAINT sagas_status_check CHECK (status IN ('RUNNING', 'COMPENSATING', 'COMPLETED', 'COMPENSATED', 'FAILED', 'RESOLVED'));

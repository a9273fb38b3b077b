-- The W3C trace context (its traceparent) of the call that started the saga: the steps
-- any replica drives, after any restart, join that trace. Empty: traces were off.
ALTER TABLE sagas ADD COLUMN trace_context TEXT NOT NULL DEFAULT '';

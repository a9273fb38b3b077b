-- A saga's writes change its lease (and its state, version and log length), never its
-- keys. With no index on the lease and room left on each page, PostgreSQL updates the
-- row in place (a heap-only tuple) instead of adding an entry to each of the table's
-- indexes for every write. Claims find unfinished sagas through sagas_status: they are
-- the ones in flight, a few thousand at most.
DROP INDEX sagas_lease;
ALTER TABLE sagas SET (fillfactor = 70);

-- Every write moves a saga's lease: with an index on it, each write also deleted and
-- inserted an index entry. Claims find unfinished sagas through sagas_status: they are
-- the ones in flight, a few thousand at most.
DROP INDEX sagas_lease;

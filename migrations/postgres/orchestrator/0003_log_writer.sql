-- Who wrote each log record and the saga version its write produced (the fencing token
-- it carried, plus one). Every change of a saga's version appends at least one record
-- (a claim appends a CLAIMED record), so a log shows its whole ownership history.
ALTER TABLE saga_log ADD COLUMN writer TEXT NOT NULL DEFAULT '';
ALTER TABLE saga_log ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

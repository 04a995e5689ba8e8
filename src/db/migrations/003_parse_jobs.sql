-- Parse job claims (the decode pipeline). A PENDING coredump is a job; a worker claims it by
-- writing a token unique to that run, so one job never runs twice at once (also not across two
-- processes), a result from a superseded run (the dump was re-queued meanwhile) is dropped, and a
-- claim whose worker died goes stale after a lease and is picked up again.
-- parse_runs counts the claims since the dump was (re-)queued, so a dump that kills its worker
-- every time ends in ERROR instead of looping.
ALTER TABLE coredumps ADD COLUMN claim_token TEXT;
ALTER TABLE coredumps ADD COLUMN claimed_at TEXT;
ALTER TABLE coredumps ADD COLUMN parse_runs INTEGER NOT NULL DEFAULT 0;

-- Landing triggers keep the files they last reacted to; every firing of a
-- schedule is kept (newest first by id), with the run it started or why
-- it started none.
ALTER TABLE schedules ADD COLUMN landing_cursor TEXT;
CREATE TABLE IF NOT EXISTS schedule_firings (
    id TEXT PRIMARY KEY,
    schedule_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    run_id TEXT,
    skipped TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS schedule_firings_by_schedule ON schedule_firings (schedule_id, id);

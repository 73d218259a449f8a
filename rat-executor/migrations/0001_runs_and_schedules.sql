-- Run records, their logs, schedules and the scheduler lease. The same
-- statements create the tables in SQLite and PostgreSQL: times are
-- RFC 3339 text (UTC, microseconds), flags are BIGINT 0/1.
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    table_ref TEXT NOT NULL,
    status TEXT NOT NULL,
    phase TEXT,
    submitted_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    executor TEXT NOT NULL,
    owner TEXT,
    handle TEXT,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE INDEX IF NOT EXISTS runs_by_table ON runs (table_ref, run_id);
CREATE TABLE IF NOT EXISTS run_logs (
    run_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS schedules (
    id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    trigger TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    next_fire_at TEXT,
    last_fired_at TEXT,
    last_run_id TEXT,
    last_upstream_run TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scheduler_lease (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Batches: selections of pipelines run in DAG order. The whole batch is
-- one JSON document; status, owner and the cancel request are columns so
-- they can be queried and set without reading it.
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    owner TEXT NOT NULL,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_by_status ON batches (status);

-- Notification hooks of namespaces, their deliveries (the outbox and its
-- log: one row per event and hook, unique by the event's key) and the
-- notifier's cursors over finished runs.
CREATE TABLE IF NOT EXISTS notification_hooks (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    document TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notification_deliveries (
    id TEXT PRIMARY KEY,
    hook_id TEXT NOT NULL,
    event_key TEXT NOT NULL,
    state TEXT NOT NULL,
    next_attempt_at TEXT,
    document TEXT NOT NULL,
    UNIQUE (hook_id, event_key)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON notification_deliveries (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_by_hook ON notification_deliveries (hook_id, id);
CREATE TABLE IF NOT EXISTS notifier_cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_finish ON runs (finished_at, run_id);

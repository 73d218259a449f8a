-- Issue 18: the audit log (every mutation and every denied request,
-- appended); owners found by owner, for one caller's reach; who each
-- run acts for, and who each schedule's runs act for.
CREATE TABLE IF NOT EXISTS audit_log (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    principal TEXT NOT NULL,
    verb TEXT NOT NULL,
    object TEXT NOT NULL,
    outcome TEXT NOT NULL,
    status INTEGER NOT NULL,
    detail TEXT,
    request_id TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit_log (at, id);
CREATE INDEX IF NOT EXISTS audit_by_principal ON audit_log (principal, at);
CREATE INDEX IF NOT EXISTS table_owners_by_owner ON table_owners (owner);
ALTER TABLE runs ADD COLUMN started_by TEXT;
ALTER TABLE schedules ADD COLUMN owner TEXT;

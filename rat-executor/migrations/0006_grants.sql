-- Who may do what (issue 18): each table's owner, each namespace's
-- members, and grants of read or write to a principal or a role on a
-- table or a pattern of tables.
CREATE TABLE IF NOT EXISTS table_owners (
    table_ref TEXT PRIMARY KEY,
    owner TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS namespace_members (
    namespace TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (namespace, member)
);
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY,
    object TEXT NOT NULL,
    grantee TEXT NOT NULL,
    level TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (object, grantee)
);
CREATE INDEX IF NOT EXISTS grants_by_grantee ON grants (grantee);
CREATE INDEX IF NOT EXISTS grants_by_granter ON grants (granted_by);

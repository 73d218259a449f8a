-- Versions of pipelines' code: every save numbered per pipeline. The files
-- are one JSON document; state, who and why are columns so lists need not
-- read the files.
CREATE TABLE IF NOT EXISTS pipeline_versions (
    table_ref TEXT NOT NULL,
    version BIGINT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    author TEXT,
    message TEXT,
    files TEXT NOT NULL,
    PRIMARY KEY (table_ref, version)
);

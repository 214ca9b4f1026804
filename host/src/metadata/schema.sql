-- The SQLite metadata schema (version 1, PRAGMA user_version), shared by every host: the Rust
-- host (host/src/metadata/sqlite.rs, include_str!), the Node host (hosts/node, copied into the
-- package) and the Python host (hosts/python). Each runs it whole at every open.
CREATE TABLE IF NOT EXISTS artifacts (
    id            TEXT PRIMARY KEY NOT NULL,
    bucket        TEXT NOT NULL,
    name          TEXT NOT NULL,
    logical_ref   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    compression   TEXT NOT NULL,
    bytes         INTEGER NOT NULL,
    stored_bytes  INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    driver        TEXT NOT NULL,
    uri           TEXT NOT NULL,
    scope         TEXT NOT NULL,
    store_tier    TEXT NOT NULL,
    execution_id  TEXT,
    created_by    TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    preview       TEXT,
    extracted     TEXT,
    accessed_at   INTEGER,
    access_count  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (bucket, name),
    UNIQUE (logical_ref)
);
CREATE INDEX IF NOT EXISTS artifacts_created ON artifacts (created_at, id);
-- Was a duplicate of UNIQUE (bucket, name).
DROP INDEX IF EXISTS artifacts_bucket_name;
CREATE INDEX IF NOT EXISTS artifacts_bucket_name_created ON artifacts (bucket, name, created_at, id);
CREATE INDEX IF NOT EXISTS artifacts_bucket_created ON artifacts (bucket, created_at, id);
CREATE INDEX IF NOT EXISTS artifacts_uri ON artifacts (uri);
CREATE INDEX IF NOT EXISTS artifacts_expires ON artifacts (expires_at);
-- Object claims (the deletion contract of WIT `metadata`): pins by writers, '' = delete claim.
CREATE TABLE IF NOT EXISTS object_claims (
    uri    TEXT NOT NULL,
    holder TEXT NOT NULL,
    until  INTEGER NOT NULL,
    PRIMARY KEY (uri, holder)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS object_claims_until ON object_claims (until);

-- Metadata schema of the artifact store on PostgreSQL (schema version 2: 1 + object_claims and the claim functions).
--
-- Applied by the host when it opens a `postgres://` metadata backend whose recorded version is
-- older than this one (or absent); also runnable by hand (`psql -f`). Idempotent: running it any number of times, from any number of hosts at
-- once, is harmless (the advisory lock serializes concurrent runs).
--
-- Timestamps are milliseconds since the Unix epoch (bigint), exactly as the component's records
-- carry them, so listing cursors mean the same thing on every backend. Identifiers and names use
-- the "C" collation: ordering and prefix matching are byte-wise, as on SQLite.

BEGIN;
SET LOCAL client_min_messages = warning;
SELECT pg_advisory_xact_lock(7053736431290770745);

CREATE TABLE IF NOT EXISTS artifact_schema_version (
    version     integer PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per artifact. get-or-create relies on UNIQUE (bucket, name).
CREATE TABLE IF NOT EXISTS artifacts (
    id            text COLLATE "C" PRIMARY KEY,
    bucket        text COLLATE "C" NOT NULL,
    name          text COLLATE "C" NOT NULL,
    ref           text COLLATE "C" NOT NULL,        -- logical URI (noetl://…)
    kind          text NOT NULL,                    -- result_ref | temp_ref | manifest
    content_type  text NOT NULL,
    compression   text NOT NULL,                    -- none | gzip | deflate
    bytes         bigint NOT NULL CHECK (bytes >= 0),         -- logical (uncompressed) size
    stored_bytes  bigint NOT NULL CHECK (stored_bytes >= 0),  -- size of the blob as stored
    sha256        text NOT NULL,                    -- over the logical bytes, lowercase hex
    driver        text NOT NULL,                    -- storage driver (fs, s3, …)
    uri           text COLLATE "C" NOT NULL,        -- where the blob lives
    scope         text NOT NULL,                    -- step | execution | workflow | permanent
    store_tier    text NOT NULL,
    execution_id  text,
    created_by    text COLLATE "C",
    created_at    bigint NOT NULL,
    updated_at    bigint NOT NULL,
    expires_at    bigint,
    accessed_at   bigint,
    access_count  bigint NOT NULL DEFAULT 0,
    preview       text,                             -- bounded JSON preview, verbatim
    extracted     text,                             -- selected fields as JSON, verbatim
    meta          jsonb NOT NULL DEFAULT '{}'::jsonb, -- free-form annotations by operators; not read by the store
    CONSTRAINT artifacts_bucket_name_key UNIQUE (bucket, name),
    CONSTRAINT artifacts_ref_key UNIQUE (ref)
);

-- Listing: keyset pagination on (created_at, id), optionally within a bucket or a creator.
CREATE INDEX IF NOT EXISTS artifacts_created ON artifacts (created_at, id);
CREATE INDEX IF NOT EXISTS artifacts_bucket_created ON artifacts (bucket, created_at, id);
-- Listing by name prefix: the page is chosen on this index alone (filter, then top-N by
-- created_at, id), then only its rows are read. Built at the first open of an existing database
-- (about 1.5 s per million rows, blocking writes meanwhile).
CREATE INDEX IF NOT EXISTS artifacts_bucket_name_created ON artifacts (bucket, name, created_at, id);
CREATE INDEX IF NOT EXISTS artifacts_created_by ON artifacts (created_by, created_at, id)
    WHERE created_by IS NOT NULL;
-- Garbage collection: blobs still referenced, and expired records.
CREATE INDEX IF NOT EXISTS artifacts_uri ON artifacts (uri);
CREATE INDEX IF NOT EXISTS artifacts_expires ON artifacts (expires_at)
    WHERE expires_at IS NOT NULL;

-- Object claims: the deletion contract of WIT `metadata` (pins by writers about to publish an
-- object; holder '' is the one delete claim). Every claim operation takes the transaction-level
-- advisory lock of its URI first, so claims on one URI never interleave across hosts.
CREATE TABLE IF NOT EXISTS object_claims (
    uri     text COLLATE "C" NOT NULL,
    holder  text COLLATE "C" NOT NULL,
    until   bigint NOT NULL,
    PRIMARY KEY (uri, holder)
);
CREATE INDEX IF NOT EXISTS object_claims_until ON object_claims (until);

-- The claim operations, one call (one round trip) each. Each takes the URI's advisory lock, then
-- runs its statements; in a VOLATILE function every statement reads a snapshot taken when it
-- starts (READ COMMITTED), so after the lock each sees every claim committed before it. The lock
-- is held until the calling statement's transaction ends. These are the statements of
-- `host/src/metadata/sql.rs` (`claims`), which SQLite runs one by one in a write transaction.
-- Added to schema version 2 after it was first recorded: hosts create them at open when missing.
CREATE OR REPLACE FUNCTION artifact_claims_lock(p_uri text) RETURNS void
LANGUAGE sql VOLATILE AS $$
    SELECT pg_advisory_xact_lock(hashtextextended(p_uri, 7053736431290770745));
$$;
-- A writer's pin, unless a live delete claim exists (then false).
CREATE OR REPLACE FUNCTION artifact_pin(p_uri text, p_holder text, p_until bigint, p_now bigint)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM artifact_claims_lock(p_uri);
    IF EXISTS (SELECT 1 FROM object_claims WHERE uri = p_uri AND holder = '' AND until > p_now) THEN
        RETURN false;
    END IF;
    INSERT INTO object_claims (uri, holder, until) VALUES (p_uri, p_holder, p_until)
        ON CONFLICT (uri, holder) DO UPDATE SET until = excluded.until;
    RETURN true;
END;
$$;
-- Whether the pin was there.
CREATE OR REPLACE FUNCTION artifact_unpin(p_uri text, p_holder text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM artifact_claims_lock(p_uri);
    DELETE FROM object_claims WHERE uri = p_uri AND holder = p_holder AND holder <> '';
    RETURN FOUND;
END;
$$;
-- The delete claim, after dropping the URI's expired claims, unless a record uses the URI or a
-- claim on it remains (then false).
CREATE OR REPLACE FUNCTION artifact_claim_delete(p_uri text, p_now bigint, p_until bigint)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM artifact_claims_lock(p_uri);
    DELETE FROM object_claims WHERE uri = p_uri AND until <= p_now;
    IF EXISTS (SELECT 1 FROM artifacts WHERE uri = p_uri)
        OR EXISTS (SELECT 1 FROM object_claims WHERE uri = p_uri) THEN
        RETURN false;
    END IF;
    INSERT INTO object_claims (uri, holder, until) VALUES (p_uri, '', p_until);
    RETURN true;
END;
$$;
-- Whether the delete claim was there.
CREATE OR REPLACE FUNCTION artifact_finish_delete(p_uri text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM artifact_claims_lock(p_uri);
    DELETE FROM object_claims WHERE uri = p_uri AND holder = '';
    RETURN FOUND;
END;
$$;

-- Parts of manifest artifacts, in order. The manifest document (the artifact's body) is the
-- authoritative list; this table is an index for SQL reporting that hosts may fill. Rows go away
-- with their manifest.
CREATE TABLE IF NOT EXISTS artifact_manifest_parts (
    manifest_id  text COLLATE "C" NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    idx          bigint NOT NULL CHECK (idx >= 0),
    part_ref     text COLLATE "C" NOT NULL,
    part_id      text COLLATE "C",
    bytes        bigint NOT NULL CHECK (bytes >= 0),
    sha256       text NOT NULL,
    PRIMARY KEY (manifest_id, idx)
);
CREATE INDEX IF NOT EXISTS artifact_manifest_parts_part ON artifact_manifest_parts (part_id);

-- Append-only log of puts (a record created), updates, reads (touch) and deletes. Puts, updates
-- and deletes are written in the same statement as the change they record; reads are counted by
-- each host and written in batches (one row per read, `at` the time of the batch) within about a
-- second, and before that host's own delete of the artifact (a host killed before loses the
-- reads it held). Rows are never updated; old rows may be deleted to bound the table (e.g.
-- `DELETE FROM artifact_events WHERE at < …`).
CREATE TABLE IF NOT EXISTS artifact_events (
    seq          bigserial PRIMARY KEY,
    at           bigint NOT NULL,                   -- server clock, ms since the epoch
    kind         text NOT NULL CHECK (kind IN ('put', 'update', 'read', 'delete')),
    artifact_id  text COLLATE "C" NOT NULL,
    bucket       text COLLATE "C" NOT NULL,
    name         text COLLATE "C" NOT NULL
);
CREATE INDEX IF NOT EXISTS artifact_events_artifact ON artifact_events (artifact_id, seq);
CREATE INDEX IF NOT EXISTS artifact_events_at ON artifact_events (at);

CREATE OR REPLACE FUNCTION artifact_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'artifact_events is append-only';
END;
$$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'artifact_events_no_update') THEN
        CREATE TRIGGER artifact_events_no_update BEFORE UPDATE ON artifact_events
            FOR EACH ROW EXECUTE FUNCTION artifact_events_append_only();
    END IF;
END;
$$;

INSERT INTO artifact_schema_version (version) VALUES (2) ON CONFLICT DO NOTHING;
COMMIT;

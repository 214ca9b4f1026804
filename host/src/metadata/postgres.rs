//! PostgreSQL metadata (`postgres://user:pass@host:port/db?…`, any libpq-style URL or key=value
//! string the `postgres` crate accepts; TLS is not supported yet, use a local or tunnelled
//! connection).
//!
//! The schema is `docs/runtime/schema/postgres.sql`, compiled in and applied at open when the
//! database records an older version (idempotent, serialized across hosts by an advisory lock). Semantics mirror the SQLite backend:
//! unique `id`, `ref` and (`bucket`, `name`); listing by keyset on (`created_at`, `id`) with the
//! shared cursor encoding; byte-wise name ordering and prefixes (`COLLATE "C"`).
//!
//! get-or-create is one statement, `INSERT … ON CONFLICT (bucket, name) DO NOTHING RETURNING`,
//! followed, when it returned nothing, by a read of the winner; there is no read-then-write
//! window, so any number of hosts may race on one pair. Puts, updates and deletes append a row
//! to `artifact_events` in the same statement. Reads (`touch`) are counted in memory and written
//! in batches, one statement for all the artifacts held, with one `read` event per read (see
//! [`super::reads`] for when, and the trade-off): a read of a popular artifact no longer takes
//! its row's lock, which every host reading it would queue on.
//!
//! Object claims (pins, delete claims) are one call each of a function in the schema
//! (`artifact_pin`, …), which takes the URI's advisory lock and runs the operation in one round
//! trip: a put pins and unpins its object, and each statement of a transaction by hand was one or
//! two round trips more.
//!
//! Connections come from a small pool (idle connections kept up to [`MAX_IDLE`]; more are opened
//! on demand). The `postgres` crate drives each connection with its own tokio runtime, so calls
//! must not be made from inside an async task: [`super::open`] wraps this backend so that each
//! call leaves the caller's runtime first ([`crate::blocking`]).

use super::sql::{self, claims, Dialect, Where};
use super::reads::ReadCounts;
use super::{Inserted, Metadata};
use artifact_component::backend::{clamp_limit, cursor, page};
use artifact_component::model::*;
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The schema, applied at open to a database that records an older version (or none).
pub const SCHEMA: &str = include_str!("../../../docs/runtime/schema/postgres.sql");
/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: i32 = 2;
/// Idle connections kept for reuse.
pub const MAX_IDLE: usize = 8;

/// The record columns, in `Record` field order (location as driver, uri).
const COLUMNS: &str = "id, bucket, name, ref, kind, content_type, compression, bytes, \
    stored_bytes, sha256, driver, uri, scope, store_tier, execution_id, created_by, created_at, \
    updated_at, expires_at, preview, extracted";
const VALUES: &str = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
    $17, $18, $19, $20, $21";
/// The server's clock in ms, for event rows.
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

fn db_err(e: postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::Metadata(format!(
            "postgres: {} {}: {}",
            db.severity(),
            db.code().code(),
            db.message()
        )),
        None => Error::Metadata(format!("postgres: {e}")),
    }
}

fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Stored integers are i64; values beyond are rejected on write.
fn to_i64(v: u64, field: &str) -> Result<i64, Error> {
    i64::try_from(v)
        .map_err(|_| Error::InvalidArgument(format!("{field} {v} exceeds the storable range")))
}

/// An owned query parameter.
type Param = Box<dyn ToSql + Sync + Send>;

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
}

/// A record's column values, in `COLUMNS` order.
fn record_params(r: &Record) -> Result<Vec<Param>, Error> {
    let texts = [
        &r.id,
        &r.bucket,
        &r.name,
        &r.logical_ref,
        &r.content_type,
        &r.sha256,
        &r.location.driver,
        &r.location.uri,
        &r.store_tier,
    ];
    let opts = [&r.execution_id, &r.created_by, &r.preview, &r.extracted];
    if texts.iter().any(|s| s.contains('\0')) || opts.iter().any(|o| o.as_ref().is_some_and(|s| s.contains('\0'))) {
        return Err(Error::InvalidArgument("NUL characters cannot be stored in PostgreSQL text".into()));
    }
    let opt_int = |v: Option<u64>, f: &str| v.map(|v| to_i64(v, f)).transpose();
    Ok(vec![
        Box::new(r.id.clone()),
        Box::new(r.bucket.clone()),
        Box::new(r.name.clone()),
        Box::new(r.logical_ref.clone()),
        Box::new(r.kind.as_str().to_string()),
        Box::new(r.content_type.clone()),
        Box::new(r.compression.as_str().to_string()),
        Box::new(to_i64(r.bytes, "bytes")?),
        Box::new(to_i64(r.stored_bytes, "stored_bytes")?),
        Box::new(r.sha256.clone()),
        Box::new(r.location.driver.clone()),
        Box::new(r.location.uri.clone()),
        Box::new(r.scope.as_str().to_string()),
        Box::new(r.store_tier.clone()),
        Box::new(r.execution_id.clone()),
        Box::new(r.created_by.clone()),
        Box::new(to_i64(r.created_at, "created_at")?),
        Box::new(to_i64(r.updated_at, "updated_at")?),
        Box::new(opt_int(r.expires_at, "expires_at")?),
        Box::new(r.preview.clone()),
        Box::new(r.extracted.clone()),
    ])
}

fn row_to_record(row: &Row) -> Result<Record, Error> {
    fn bad(col: &str, e: impl std::fmt::Display) -> Error {
        Error::Metadata(format!("postgres: column {col}: {e}"))
    }
    fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, col: &str) -> Result<T, Error> {
        row.try_get(col).map_err(|e| bad(col, e))
    }
    fn uint(row: &Row, col: &str) -> Result<u64, Error> {
        let v: i64 = get(row, col)?;
        u64::try_from(v).map_err(|e| bad(col, e))
    }
    fn opt_uint(row: &Row, col: &str) -> Result<Option<u64>, Error> {
        let v: Option<i64> = get(row, col)?;
        v.map(|v| u64::try_from(v).map_err(|e| bad(col, e))).transpose()
    }
    fn parsed<T>(row: &Row, col: &str, p: fn(&str) -> Result<T, Error>) -> Result<T, Error> {
        let s: String = get(row, col)?;
        p(&s).map_err(|e| bad(col, format!("{e:?}")))
    }
    Ok(Record {
        id: get(row, "id")?,
        bucket: get(row, "bucket")?,
        name: get(row, "name")?,
        logical_ref: get(row, "ref")?,
        kind: parsed(row, "kind", Kind::parse)?,
        content_type: get(row, "content_type")?,
        compression: parsed(row, "compression", Compression::parse)?,
        bytes: uint(row, "bytes")?,
        stored_bytes: uint(row, "stored_bytes")?,
        sha256: get(row, "sha256")?,
        location: Location { driver: get(row, "driver")?, uri: get(row, "uri")? },
        scope: parsed(row, "scope", Scope::parse)?,
        store_tier: get(row, "store_tier")?,
        execution_id: get(row, "execution_id")?,
        created_by: get(row, "created_by")?,
        created_at: uint(row, "created_at")?,
        updated_at: uint(row, "updated_at")?,
        expires_at: opt_uint(row, "expires_at")?,
        preview: get(row, "preview")?,
        extracted: get(row, "extracted")?,
    })
}

/// Metadata in a PostgreSQL database, shared by any number of hosts.
pub struct PostgresMetadata {
    config: Config,
    idle: Mutex<Vec<Pooled>>,
    reads: ReadCounts,
}

/// Statements prepared per connection before the cache starts over (listings with different
/// filters are different statements).
const STATEMENT_CACHE: usize = 64;

/// An idle connection and the statements prepared on it.
struct Pooled {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// A pooled connection; returned to the pool on drop unless it broke.
struct Conn<'a> {
    pool: &'a PostgresMetadata,
    client: Option<Pooled>,
}

impl Conn<'_> {
    /// `sql`, prepared once per connection: a query by text costs a prepare round trip each time.
    fn prepared(&mut self, sql: &str) -> Result<Statement, Error> {
        let p = self.client.as_mut().expect("present until drop");
        if let Some(st) = p.statements.get(sql) {
            return Ok(st.clone());
        }
        let st = p.client.prepare(sql).map_err(db_err)?;
        if p.statements.len() >= STATEMENT_CACHE {
            p.statements.clear();
        }
        p.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

impl std::ops::Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client.as_ref().expect("present until drop").client
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client.as_mut().expect("present until drop").client
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            if !c.client.is_closed() {
                let mut idle = self.pool.idle();
                if idle.len() < MAX_IDLE {
                    idle.push(c);
                }
            }
        }
    }
}

impl PostgresMetadata {
    /// Connects to the database at `uri` (the whole `postgres://…` URI) and applies the schema.
    pub fn open(uri: &str) -> Result<Self, Error> {
        let mut config = Config::from_str(uri)
            .map_err(|e| Error::InvalidArgument(format!("invalid postgres URI: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("artifact");
        }
        let m = PostgresMetadata { config, idle: Mutex::new(Vec::new()), reads: ReadCounts::default() };
        m.migrate()?;
        Ok(m)
    }

    /// A pooled connection and `sql` prepared on it (see [`Conn::prepared`]).
    fn prepare(&self, sql: &str) -> Result<(Conn<'_>, Statement), Error> {
        let mut c = self.conn()?;
        let st = c.prepared(sql)?;
        Ok((c, st))
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Pooled>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn conn(&self) -> Result<Conn<'_>, Error> {
        let pooled = self.idle().pop();
        let client = match pooled {
            Some(c) if !c.client.is_closed() => c,
            _ => Pooled {
                client: self.config.connect(NoTls).map_err(|e| {
                    let cause = std::error::Error::source(&e).map(|c| format!(": {c}")).unwrap_or_default();
                    Error::Metadata(format!("postgres: connect: {e}{cause}"))
                })?,
                statements: HashMap::new(),
            },
        };
        Ok(Conn { pool: self, client: Some(client) })
    }

    fn migrate(&self) -> Result<(), Error> {
        let mut c = self.conn()?;
        let exists: bool = c
            .query_one("SELECT to_regclass('artifact_schema_version') IS NOT NULL", &[])
            .map_err(db_err)?
            .get(0);
        let version: Option<i32> = if exists {
            c.query_one("SELECT max(version) FROM artifact_schema_version", &[])
                .map_err(db_err)?
                .get(0)
        } else {
            None
        };
        if version.is_some_and(|v| v > SCHEMA_VERSION) {
            return Err(Error::Metadata(format!(
                "database schema version {} is newer than this build supports ({SCHEMA_VERSION})",
                version.unwrap_or_default()
            )));
        }
        // A database already at this version is left alone: the DDL takes table locks, and
        // running it at every open (every `artifact` process) deadlocked against writes. The
        // claim functions joined version 2 after databases recorded it: those get the schema
        // once more (idempotent), which adds them. All of it commits at once, so the last
        // function is there only if all are.
        if version == Some(SCHEMA_VERSION) {
            let functions: bool = c
                .query_one("SELECT to_regprocedure('artifact_finish_delete(text)') IS NOT NULL", &[])
                .map_err(db_err)?
                .get(0);
            if functions {
                return Ok(());
            }
        }
        c.batch_execute(SCHEMA).map_err(|e| {
            Error::Metadata(format!(
                "applying the schema (docs/runtime/schema/postgres.sql) failed: {}; a user without \
                 the right to create tables and functions needs it applied once by one who has",
                db_err(e)
            ))
        })
    }

    /// The server's version string (`SHOW server_version`).
    pub fn server_version(&self) -> Result<String, Error> {
        let row = self.conn()?.query_one("SHOW server_version", &[]).map_err(db_err)?;
        Ok(row.get(0))
    }

    /// Checks write permission: inserts, reads back and deletes a probe row in one transaction
    /// that is rolled back, so nothing (not even an event) remains.
    pub fn probe(&self) -> Result<(), Error> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(db_err)?;
        let id = format!("doctor-{}", std::process::id());
        let mut rec = Record { id: id.clone(), bucket: "_doctor".into(), name: id.clone(), ..Default::default() };
        rec.logical_ref = format!("doctor:{id}");
        let params = record_params(&rec)?;
        tx.execute(&format!("INSERT INTO artifacts ({COLUMNS}) VALUES ({VALUES})"), &refs(&params))
            .map_err(db_err)?;
        let n = tx.query("SELECT id FROM artifacts WHERE id = $1", &[&id]).map_err(db_err)?.len();
        let d = tx.execute("DELETE FROM artifacts WHERE id = $1", &[&id]).map_err(db_err)?;
        tx.rollback().map_err(db_err)?;
        if n != 1 || d != 1 {
            return Err(Error::Metadata("postgres: probe row did not read back".into()));
        }
        Ok(())
    }

    /// When the artifact was last read and how often (see [`Metadata::touch`]); `None` if there
    /// is no such artifact.
    pub fn access(&self, id: &str) -> Result<Option<(Option<Timestamp>, u64)>, Error> {
        self.flush_reads()?;
        let row = self
            .conn()?
            .query_opt("SELECT accessed_at, access_count FROM artifacts WHERE id = $1", &[&id])
            .map_err(db_err)?;
        Ok(row.map(|r| {
            let at: Option<i64> = r.get(0);
            let n: i64 = r.get(1);
            (at.map(|t| t.max(0) as u64), n.max(0) as u64)
        }))
    }

    /// The events recorded for an artifact, oldest first, as `(kind, at)`.
    pub fn events(&self, id: &str) -> Result<Vec<(String, Timestamp)>, Error> {
        self.flush_reads()?;
        let rows = self
            .conn()?
            .query("SELECT kind, at FROM artifact_events WHERE artifact_id = $1 ORDER BY seq", &[&id])
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64)).collect())
    }

    /// Writes the reads held in memory in one statement: counts and times, and one `read` event
    /// per read. On failure they are held again (none is lost).
    pub fn flush_reads(&self) -> Result<(), Error> {
        let batch = self.reads.take();
        if batch.is_empty() {
            return Ok(());
        }
        // In id order: hosts writing overlapping batches then take the rows' locks in one order
        // (a deadlock, should one happen, fails the write and the reads are held again).
        let mut rows: Vec<_> = batch.iter().collect();
        rows.sort_unstable_by(|x, y| x.0.cmp(y.0));
        let ids: Vec<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
        let ats: Vec<i64> = rows.iter().map(|(_, (at, _))| *at).collect();
        let counts: Vec<i64> = rows.iter().map(|(_, (_, n))| *n).collect();
        let sql = format!(
            "WITH b AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(id, at, n)), \
             t AS (UPDATE artifacts a SET accessed_at = GREATEST(COALESCE(a.accessed_at, 0), b.at), \
             access_count = a.access_count + b.n FROM b WHERE a.id = b.id COLLATE \"C\" \
             RETURNING a.id, a.bucket, a.name, b.n), \
             r AS (SELECT id, bucket, name FROM t, generate_series(1, t.n)) {}",
            event_sql("read", "r")
        );
        let written = self.prepare(&sql).and_then(|(mut c, st)| c.execute(&st, &[&ids, &ats, &counts]).map_err(db_err));
        if written.is_err() {
            self.reads.hold_again(batch);
        }
        written.map(drop)
    }

    fn select_one(&self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Option<Record>, Error> {
        let (mut c, st) = self.prepare(sql)?;
        let row = c.query_opt(&st, args).map_err(db_err)?;
        row.as_ref().map(row_to_record).transpose()
    }
}

/// PostgreSQL's side of the shared listing statement.
struct Postgres;

impl Dialect for Postgres {
    type Value = Param;
    const FALSE: &'static str = "FALSE";
    const ROW_KEY: &'static str = "id";
    fn placeholder(n: usize) -> String {
        format!("${n}")
    }
    fn text(s: String) -> Param {
        Box::new(s)
    }
    fn int(i: i64) -> Param {
        Box::new(i)
    }
    fn name_prefix(p: &str, w: &mut Where<Self>) {
        // Byte-wise (C collation): the range lets the (bucket, name) index narrow the scan,
        // starts_with decides (LIKE would interpret wildcards).
        let p = w.arg(Box::new(p.to_string()));
        w.push(format!("name >= {p} AND starts_with(name, {p})"));
    }
}

fn event_sql(kind: &str, from: &str) -> String {
    format!(
        "INSERT INTO artifact_events (at, kind, artifact_id, bucket, name) \
         SELECT {NOW_MS}, '{kind}', id, bucket, name FROM {from}"
    )
}

impl PostgresMetadata {
    /// One claim operation: a call of its function in the schema (`artifact_pin`, …), which
    /// takes the URI's advisory lock and runs the operation's statements in one round trip and
    /// one transaction. Returns the function's boolean answer.
    fn claim(&self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<bool, Error> {
        let (mut c, st) = self.prepare(sql)?;
        let row = c.query_one(&st, args).map_err(db_err)?;
        Ok(row.get::<_, bool>(0))
    }
}

impl Drop for PostgresMetadata {
    fn drop(&mut self) {
        // Best effort: a database out of reach loses the reads held, nothing else.
        let _ = self.flush_reads();
    }
}

impl Metadata for PostgresMetadata {
    fn insert_if_absent(&self, rec: &Record) -> Result<Inserted, Error> {
        let params = record_params(rec)?;
        let insert = format!(
            "WITH ins AS (INSERT INTO artifacts ({COLUMNS}) VALUES ({VALUES}) \
             ON CONFLICT (bucket, name) DO NOTHING RETURNING {COLUMNS}), \
             ev AS ({}) SELECT {COLUMNS} FROM ins",
            event_sql("put", "ins")
        );
        let by_name = format!("SELECT {COLUMNS} FROM artifacts WHERE bucket = $1 AND name = $2");
        // The winner can only vanish if it is deleted between the two statements; try again then.
        for _ in 0..3 {
            let (mut c, st) = self.prepare(&insert)?;
            let r = c.query_opt(&st, &refs(&params));
            drop(c);
            let conflict = match r {
                Ok(Some(row)) => return Ok(Inserted { record: row_to_record(&row)?, created: true }),
                Ok(None) => None,
                // Another unique key (id or ref): if (bucket, name) is also taken, that row wins.
                Err(e) if is_unique_violation(&e) => Some(e),
                Err(e) => return Err(db_err(e)),
            };
            match self.select_one(&by_name, &[&rec.bucket, &rec.name])? {
                Some(winner) => return Ok(Inserted { record: winner, created: false }),
                None => {
                    if let Some(e) = conflict {
                        return Err(Error::Conflict(format!(
                            "id {} or ref {} is already taken ({e})",
                            rec.id, rec.logical_ref
                        )));
                    }
                }
            }
        }
        Err(Error::Metadata(format!(
            "postgres: {}/{} kept being created and deleted concurrently",
            rec.bucket, rec.name
        )))
    }

    fn pin_object(&self, uri: &str, holder: &str, now: Timestamp, until: Timestamp) -> Result<bool, Error> {
        let (now, until) = (to_i64(now, "now")?, to_i64(until, "until")?);
        self.claim("SELECT artifact_pin($1, $2, $3, $4)", &[&uri, &holder, &until, &now])
    }

    fn unpin_object(&self, uri: &str, holder: &str) -> Result<(), Error> {
        self.claim("SELECT artifact_unpin($1, $2)", &[&uri, &holder]).map(drop)
    }

    fn claim_delete(&self, uri: &str, now: Timestamp, until: Timestamp) -> Result<bool, Error> {
        let (now, until) = (to_i64(now, "now")?, to_i64(until, "until")?);
        self.claim("SELECT artifact_claim_delete($1, $2, $3)", &[&uri, &now, &until])
    }

    fn finish_delete(&self, uri: &str) -> Result<(), Error> {
        self.claim("SELECT artifact_finish_delete($1)", &[&uri]).map(drop)
    }

    fn stale_claims(&self, before: Timestamp, limit: u32) -> Result<Vec<String>, Error> {
        let before = to_i64(before, "before")?;
        let limit = clamp_limit(limit) as i64;
        let mut c = self.conn()?;
        let rows = c.query(claims::STALE, &[&before, &limit]).map_err(db_err)?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    }

    fn update(&self, rec: &Record) -> Result<(), Error> {
        let params = record_params(rec)?;
        let sql = format!(
            "WITH up AS (UPDATE artifacts SET bucket = $2, name = $3, ref = $4, kind = $5, \
             content_type = $6, compression = $7, bytes = $8, stored_bytes = $9, sha256 = $10, \
             driver = $11, uri = $12, scope = $13, store_tier = $14, execution_id = $15, \
             created_by = $16, created_at = $17, updated_at = $18, expires_at = $19, \
             preview = $20, extracted = $21 WHERE id = $1 RETURNING id, bucket, name), \
             ev AS ({}) SELECT count(*) FROM up",
            event_sql("update", "up")
        );
        let (mut c, st) = self.prepare(&sql)?;
        match c.query_one(&st, &refs(&params)) {
            Ok(row) if row.get::<_, i64>(0) == 0 => {
                Err(Error::NotFound(format!("no artifact with id {}", rec.id)))
            }
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(Error::Conflict(format!(
                "update of {} collides with another artifact: {e}",
                rec.id
            ))),
            Err(e) => Err(db_err(e)),
        }
    }

    fn get_by_id(&self, id: &str) -> Result<Option<Record>, Error> {
        self.select_one(&format!("SELECT {COLUMNS} FROM artifacts WHERE id = $1"), &[&id])
    }

    fn get_by_ref(&self, logical_ref: &str) -> Result<Option<Record>, Error> {
        self.select_one(&format!("SELECT {COLUMNS} FROM artifacts WHERE ref = $1"), &[&logical_ref])
    }

    fn get_by_name(&self, bucket: &str, name: &str) -> Result<Option<Record>, Error> {
        self.select_one(
            &format!("SELECT {COLUMNS} FROM artifacts WHERE bucket = $1 AND name = $2"),
            &[&bucket, &name],
        )
    }

    fn list(&self, q: &ListQuery) -> Result<Page, Error> {
        let limit = clamp_limit(q.limit);
        let (sql, args) = sql::list::<Postgres>(q, COLUMNS, limit)?;
        let (mut c, st) = self.prepare(&sql)?;
        let rows = c.query(&st, &refs(&args)).map_err(db_err)?;
        let records = rows.iter().map(row_to_record).collect::<Result<Vec<_>, _>>()?;
        let (records, next_cursor) = page(records, limit, cursor::of);
        Ok(Page { records, next_cursor })
    }

    fn summary(&self, bucket: &str) -> Result<BucketSummary, Error> {
        let row = self
            .conn()?
            .query_one(
                "SELECT COUNT(*), COALESCE(SUM(bytes), 0)::bigint FROM artifacts WHERE bucket = $1",
                &[&bucket],
            )
            .map_err(db_err)?;
        let (count, total): (i64, i64) = (row.get(0), row.get(1));
        Ok(BucketSummary { count: count.max(0) as u64, total_bytes: total.max(0) as u64 })
    }

    fn delete(&self, id: &str) -> Result<bool, Error> {
        // This process's reads of it are logged before its delete. Best effort: a batch that
        // cannot be written is held again and never fails the delete.
        let _ = self.flush_reads();
        let sql = format!(
            "WITH del AS (DELETE FROM artifacts WHERE id = $1 RETURNING id, bucket, name), \
             ev AS ({}) SELECT count(*) FROM del",
            event_sql("delete", "del")
        );
        let (mut c, st) = self.prepare(&sql)?;
        let row = c.query_one(&st, &[&id]).map_err(db_err)?;
        Ok(row.get::<_, i64>(0) > 0)
    }

    fn touch(&self, id: &str, at: Timestamp) -> Result<(), Error> {
        let at = to_i64(at, "accessed_at")?;
        if self.reads.count(id, at) {
            self.flush_reads()?;
        }
        Ok(())
    }
}

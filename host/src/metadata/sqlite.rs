//! SQLite metadata (WAL mode): one `artifacts` table, unique on `id`, `logical_ref` and
//! (`bucket`, `name`). Several processes may share the file; writers serialize on SQLite's write
//! lock (`BEGIN IMMEDIATE`, 5 s busy timeout), threads of one process on a mutex.
//!
//! WAL checkpoints (copying committed pages into the database file, with its fsyncs) run on a
//! background thread with its own connection, after writes, instead of inside the write that
//! crosses SQLite's 1,000-page threshold: that write used to take milliseconds (scenario 7 of
//! benches/). The writer still checkpoints itself past [`WAL_BACKSTOP_PAGES`], should the
//! background thread fall behind, so the WAL stays bounded.
//!
//! Reads are counted (`touch`) in memory and written in one transaction (see [`super::reads`]
//! for when, and the trade-off), instead of one write transaction (a file lock and a WAL append)
//! per read.
//!
//! Reads never wait for writes: lookups, listings and summaries run on a pool of read connections
//! (WAL), and the flush a `touch` makes is skipped (the counts stay held for the next one) when
//! the write connection is busy or the database is locked by another process. Writes wait for
//! the lock (up to the busy timeout) after leaving the async runtime they are called from
//! ([`crate::blocking`]): in `artifact serve`, a database locked by another process (a `gc`, a
//! backup, a shell) holds up the uploads that wait for it, not the server's reads.

use super::sql::{self, claims, Dialect, Where};
use super::{Inserted, Metadata};
use crate::blocking::leave_runtime;
use artifact_component::backend::{clamp_limit, cursor, page};
use artifact_component::model::*;
use rusqlite::types::{ToSql, Value};
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, Row, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use super::reads::{TOUCH_BATCH, TOUCH_FLUSH};
use super::reads::ReadCounts;

/// The schema version this code writes (`PRAGMA user_version`). Indexes are not part of it:
/// they are created (or dropped) at every open, and any version of the code works with or
/// without them.
pub const SCHEMA_VERSION: i64 = 1;

/// WAL size (pages) at which a writer checkpoints on its own, when the background checkpoints
/// have not kept up (SQLite's default threshold is 1,000).
pub const WAL_BACKSTOP_PAGES: u32 = 10_000;
/// The least time between two background checkpoints: writes in between share one.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(20);

/// The index that serves listings by name (prefix) on the index alone (see `sql`).
const NAME_CREATED_INDEX: &str = "artifacts_bucket_name_created";

/// The schema every host runs at open (`schema.sql`: the Node and Python hosts use the same file).
pub const SCHEMA: &str = include_str!("schema.sql");

/// A shared claim statement with SQLite's `?n` placeholders.
fn claim_sql(s: &str) -> String {
    s.replace('$', "?")
}

/// The record columns, in `Record` field order (location as driver, uri); a macro so that the
/// lookups below are constants (every signed read runs one: no `format!` per read).
macro_rules! columns {
    () => {
        "id, bucket, name, logical_ref, kind, content_type, compression, bytes, \
         stored_bytes, sha256, driver, uri, scope, store_tier, execution_id, created_by, created_at, \
         updated_at, expires_at, preview, extracted"
    };
}
const COLUMNS: &str = columns!();
const BY_ID: &str = concat!("SELECT ", columns!(), " FROM artifacts WHERE id = ?1");
const BY_REF: &str = concat!("SELECT ", columns!(), " FROM artifacts WHERE logical_ref = ?1");
const BY_NAME: &str = concat!("SELECT ", columns!(), " FROM artifacts WHERE bucket = ?1 AND name = ?2");

/// How long a connection waits for another one's lock before it answers "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Turns the database to WAL and returns the journal mode it has (in-memory databases report
/// "memory" and stay that way). While another connection turns a fresh file to WAL, SQLite can
/// answer this pragma SQLITE_BUSY without calling the busy handler (seen with three processes
/// opening one new home at once), so it is retried here within the same busy timeout.
fn wal_mode(conn: &Connection) -> Result<String, Error> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5))
            }
            r => return r.map_err(db_err),
        }
    }
}

fn db_err(e: rusqlite::Error) -> Error {
    Error::Metadata(format!("sqlite: {e}"))
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

/// Stored integers are i64; values beyond are rejected on write.
fn to_i64(v: u64, field: &str) -> Result<i64, Error> {
    i64::try_from(v)
        .map_err(|_| Error::InvalidArgument(format!("{field} {v} exceeds the storable range")))
}

/// `Record` field values in `COLUMNS` order.
fn record_values(r: &Record) -> Result<[Value; 21], Error> {
    let opt_text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    let opt_int = |v: Option<u64>, f: &str| -> Result<Value, Error> {
        Ok(v.map(|v| to_i64(v, f))
            .transpose()?
            .map_or(Value::Null, Value::Integer))
    };
    Ok([
        Value::Text(r.id.clone()),
        Value::Text(r.bucket.clone()),
        Value::Text(r.name.clone()),
        Value::Text(r.logical_ref.clone()),
        Value::Text(r.kind.as_str().into()),
        Value::Text(r.content_type.clone()),
        Value::Text(r.compression.as_str().into()),
        Value::Integer(to_i64(r.bytes, "bytes")?),
        Value::Integer(to_i64(r.stored_bytes, "stored_bytes")?),
        Value::Text(r.sha256.clone()),
        Value::Text(r.location.driver.clone()),
        Value::Text(r.location.uri.clone()),
        Value::Text(r.scope.as_str().into()),
        Value::Text(r.store_tier.clone()),
        opt_text(&r.execution_id),
        opt_text(&r.created_by),
        Value::Integer(to_i64(r.created_at, "created_at")?),
        Value::Integer(to_i64(r.updated_at, "updated_at")?),
        opt_int(r.expires_at, "expires_at")?,
        opt_text(&r.preview),
        opt_text(&r.extracted),
    ])
}

fn row_to_record(row: &Row<'_>) -> rusqlite::Result<Record> {
    fn parsed<T>(row: &Row<'_>, i: usize, p: fn(&str) -> Result<T, Error>) -> rusqlite::Result<T> {
        let s: String = row.get(i)?;
        p(&s).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    }
    fn uint(row: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
        let v: i64 = row.get(i)?;
        u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(i, v))
    }
    fn opt_uint(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<u64>> {
        let v: Option<i64> = row.get(i)?;
        v.map(|v| u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(i, v)))
            .transpose()
    }
    Ok(Record {
        id: row.get(0)?,
        bucket: row.get(1)?,
        name: row.get(2)?,
        logical_ref: row.get(3)?,
        kind: parsed(row, 4, Kind::parse)?,
        content_type: row.get(5)?,
        compression: parsed(row, 6, Compression::parse)?,
        bytes: uint(row, 7)?,
        stored_bytes: uint(row, 8)?,
        sha256: row.get(9)?,
        location: Location {
            driver: row.get(10)?,
            uri: row.get(11)?,
        },
        scope: parsed(row, 12, Scope::parse)?,
        store_tier: row.get(13)?,
        execution_id: row.get(14)?,
        created_by: row.get(15)?,
        created_at: uint(row, 16)?,
        updated_at: uint(row, 17)?,
        expires_at: opt_uint(row, 18)?,
        preview: row.get(19)?,
        extracted: row.get(20)?,
    })
}

/// Metadata in a SQLite database file.
pub struct SqliteMetadata {
    // Declared first so that it stops (and closes its connection) before `conn` closes: the last
    // connection to close checkpoints and removes the WAL.
    checkpointer: Option<Checkpointer>,
    /// Idle connections for the lookups by id, ref and name, so that concurrent reads (every
    /// signed GET of `artifact serve` runs one) neither wait on `conn`'s mutex nor on each other.
    /// Unused for an in-memory database (each connection would open a database of its own).
    readers: Readers,
    conn: Mutex<Connection>,
    reads: ReadCounts,
}

/// A pool of read connections to one database file: a read takes one (opening it when none is
/// idle) and gives it back, at most [`Readers::MAX_IDLE`] are kept (with at most 512 KiB of page
/// cache each). Each read is its own transaction, so it sees every write committed before it
/// began, by any connection or process (a deleted artifact is not found by the next read).
struct Readers {
    path: Option<String>,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Enough for the threads that run instances at once (each holds one only for a lookup);
    /// each idle connection keeps two descriptors (database and WAL) open.
    const MAX_IDLE: usize = 4;

    /// An idle connection, else a new one; `None` in memory or when none can be opened (out
    /// of file descriptors, the database file gone): the caller then reads on the main
    /// connection, as before the pool, rather than failing the read.
    fn take(&self) -> Option<Connection> {
        let path = self.path.as_ref()?;
        if let Some(c) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Some(c);
        }
        let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX).ok()?;
        c.busy_timeout(BUSY_TIMEOUT).ok()?;
        // A lookup touches a handful of index and table pages: 512 KiB of page cache holds the
        // hot ones, and bounds what the pool keeps (SQLite's default is 2 MiB per connection).
        c.pragma_update(None, "cache_size", -512).ok()?;
        c.set_prepared_statement_cache_capacity(16);
        Some(c)
    }

    fn give_back(&self, c: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < Self::MAX_IDLE {
            idle.push(c);
        }
    }
}

/// Flags shared by the writers and the checkpoint thread.
#[derive(Default)]
struct CheckpointState {
    pending: bool,
    stop: bool,
}

/// A thread that runs passive WAL checkpoints on its own connection after writes, at most every
/// [`CHECKPOINT_INTERVAL`]; stopped and joined on drop.
struct Checkpointer {
    state: Arc<(Mutex<CheckpointState>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &str) -> Result<Self, Error> {
        let conn =
            Connection::open(path).map_err(|e| Error::Metadata(format!("open {path}: {e}")))?;
        let state = Arc::new((Mutex::new(CheckpointState::default()), Condvar::new()));
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(conn, &shared))
            .map_err(|e| Error::Metadata(format!("spawn checkpoint thread: {e}")))?;
        Ok(Checkpointer { state, thread: Some(thread) })
    }

    fn lock(state: &Mutex<CheckpointState>) -> MutexGuard<'_, CheckpointState> {
        state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Something was committed: checkpoint soon.
    fn wrote(&self) {
        let (state, cv) = &*self.state;
        Self::lock(state).pending = true;
        cv.notify_one();
    }
}

impl Drop for SqliteMetadata {
    fn drop(&mut self) {
        // Best effort: a database gone read-only loses the counts, nothing else.
        let _ = self.flush_reads();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (state, cv) = &*self.state;
        Self::lock(state).stop = true;
        cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn checkpoint_loop(conn: Connection, state: &(Mutex<CheckpointState>, Condvar)) {
    let (state, cv) = state;
    loop {
        {
            let s = Checkpointer::lock(state);
            let mut s = cv
                .wait_while(s, |s| !s.pending && !s.stop)
                .unwrap_or_else(|p| p.into_inner());
            if s.stop {
                return;
            }
            s.pending = false;
        }
        // PASSIVE never waits for readers or writers. A failure (e.g. another process is
        // checkpointing) is retried after the next write; the writer's backstop bounds the WAL.
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        let s = Checkpointer::lock(state);
        let (s, _) = cv
            .wait_timeout_while(s, CHECKPOINT_INTERVAL, |s| !s.stop)
            .unwrap_or_else(|p| p.into_inner());
        if s.stop {
            return;
        }
    }
}

impl SqliteMetadata {
    /// Opens (creating and migrating if needed) the database at `path`: what follows
    /// `sqlite://` in a backend URI. `:memory:` opens a private in-memory database.
    pub fn open(path: &str) -> Result<Self, Error> {
        if path.is_empty() {
            return Err(Error::InvalidArgument("empty sqlite path".into()));
        }
        if path == ":memory:" {
            return Self::from_connection(Connection::open_in_memory().map_err(db_err)?, None);
        }
        let conn = {
            if let Some(parent) = Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::Metadata(format!("create {}: {e}", parent.display())))?;
            }
            Connection::open(path).map_err(|e| Error::Metadata(format!("open {path}: {e}")))?
        };
        Self::from_connection(conn, Some(path))
    }

    /// `path` (none in memory) is opened again by the checkpoint thread.
    fn from_connection(mut conn: Connection, path: Option<&str>) -> Result<Self, Error> {
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
        let mode = wal_mode(&conn)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db_err)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn)?;
        let checkpointer = match path {
            Some(path) if mode.eq_ignore_ascii_case("wal") => {
                let c = Checkpointer::start(path)?;
                conn.pragma_update(None, "wal_autocheckpoint", WAL_BACKSTOP_PAGES)
                    .map_err(db_err)?;
                Some(c)
            }
            _ => None,
        };
        Ok(SqliteMetadata {
            checkpointer,
            // Only in WAL mode do readers never block the writer (nor it them).
            readers: Readers {
                path: path.filter(|_| mode.eq_ignore_ascii_case("wal")).map(str::to_string),
                idle: Mutex::new(Vec::new()),
            },
            conn: Mutex::new(conn),
            reads: ReadCounts::default(),
        })
    }

    /// Called after a committed write.
    fn wrote(&self) {
        if let Some(c) = &self.checkpointer {
            c.wrote();
        }
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs the write `f` on the write connection. Waiting for it (another thread's write) and
    /// for the database's write lock (another process's, up to the busy timeout) happens after
    /// leaving the caller's async runtime (see the module docs).
    fn writing<T: Send>(&self, f: impl FnOnce(&mut Connection) -> Result<T, Error> + Send) -> Result<T, Error> {
        leave_runtime(|| f(&mut self.conn()))
    }

    /// Runs the read `f` on a connection of the read pool, which never waits for a writer (on
    /// the write connection in memory, or when the pool cannot open one).
    fn reading<T>(&self, f: impl FnOnce(&Connection) -> Result<T, Error>) -> Result<T, Error> {
        match self.readers.take() {
            Some(c) => {
                let r = f(&c);
                self.readers.give_back(c);
                r
            }
            None => f(&self.conn()),
        }
    }

    /// One record by `sql` (see [`SqliteMetadata::reading`]).
    fn lookup(&self, sql: &str, args: &[&dyn ToSql]) -> Result<Option<Record>, Error> {
        self.reading(|c| select_one(c, sql, args))
    }

    /// Runs `f` in an immediate (write-locked) transaction: claims on one URI never interleave,
    /// across threads (the mutex) and processes (the database lock).
    fn claims_tx<T: Send>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T> + Send) -> Result<T, Error> {
        let out = self.writing(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
            let out = f(&tx).map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(out)
        })?;
        self.wrote();
        Ok(out)
    }

    /// Writes the reads counted in memory, in one transaction, waiting for the write lock.
    pub fn flush_reads(&self) -> Result<(), Error> {
        self.writing(|conn| self.flush_on(conn).map_err(db_err))
    }

    /// The flush a `touch` makes: never waits. When another thread holds the write connection
    /// or another process the database's write lock, the counts stay held for a later flush.
    fn flush_reads_unless_busy(&self) -> Result<(), Error> {
        let mut conn = match self.conn.try_lock() {
            Ok(c) => c,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return Ok(()),
        };
        conn.busy_timeout(Duration::ZERO).map_err(db_err)?;
        let r = self.flush_on(&mut conn);
        let restored = conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err);
        match r {
            Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == ErrorCode::DatabaseBusy => restored,
            r => r.map_err(db_err).and(restored),
        }
    }

    /// Writes what is counted on `conn`; on failure the counts are held again (none is lost).
    fn flush_on(&self, conn: &mut Connection) -> rusqlite::Result<()> {
        let batch = self.reads.take();
        if batch.is_empty() {
            return Ok(());
        }
        let write = |conn: &mut Connection| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut st = tx.prepare_cached(
                    "UPDATE artifacts SET accessed_at = MAX(COALESCE(accessed_at, 0), ?2), \
                     access_count = access_count + ?3 WHERE id = ?1",
                )?;
                for (id, (at, n)) in &batch {
                    st.execute(params![id, at, n])?;
                }
            }
            tx.commit()
        };
        match write(conn) {
            Ok(()) => {
                self.wrote();
                Ok(())
            }
            Err(e) => {
                self.reads.hold_again(batch);
                Err(e)
            }
        }
    }

    /// When the artifact was last read and how often (see [`Metadata::touch`]), reads counted
    /// in memory included; `None` if there is no such artifact.
    pub fn access(&self, id: &str) -> Result<Option<(Option<Timestamp>, u64)>, Error> {
        self.flush_reads()?;
        self.reading(|conn| {
            let mut st = conn
                .prepare_cached("SELECT accessed_at, access_count FROM artifacts WHERE id = ?1")
                .map_err(db_err)?;
            let row = st
                .query_row([id], |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, i64>(1)?)))
                .optional()
                .map_err(db_err)?;
            Ok(row.map(|(at, n)| (at.map(|t| t.max(0) as u64), n.max(0) as u64)))
        })
    }
}

fn migrate(conn: &mut Connection) -> Result<(), Error> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_err)?;
    if version > SCHEMA_VERSION {
        return Err(Error::Metadata(format!(
            "database schema version {version} is newer than this build supports ({SCHEMA_VERSION})"
        )));
    }
    let exists = |tx: &rusqlite::Transaction<'_>, kind: &str, name: &str| {
        tx.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = ?1 AND name = ?2",
            [kind, name],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(db_err)
    };
    let new_index = !exists(&tx, "index", NAME_CREATED_INDEX)?;
    tx.execute_batch(SCHEMA).map_err(db_err)?;
    // A database that was ANALYZEd but has no statistics for a new index gets plans that misjudge
    // it (e.g. sorting a whole bucket by name instead of walking it in creation order).
    if new_index && exists(&tx, "table", "sqlite_stat1")? {
        tx.execute_batch(&format!("ANALYZE {NAME_CREATED_INDEX}"))
            .map_err(db_err)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(db_err)?;
    tx.commit().map_err(db_err)
}

/// The smallest string greater than every string that starts with `p` (byte-wise, which for
/// UTF-8 is code point order): `p` with its last incrementable char incremented and the rest cut.
/// `None` when every char is `char::MAX` (no upper bound).
fn prefix_successor(p: &str) -> Option<String> {
    let mut chars: Vec<char> = p.chars().collect();
    while let Some(c) = chars.pop() {
        let next = match c as u32 {
            0xD7FF => Some('\u{E000}'),
            n => char::from_u32(n + 1),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// SQLite's side of the shared listing statement.
struct Sqlite;

impl Dialect for Sqlite {
    type Value = Value;
    const FALSE: &'static str = "0";
    const ROW_KEY: &'static str = "rowid";
    // With ANALYZE statistics (STAT4), the planner picks the narrower UNIQUE (bucket, name) index
    // for some prefixes and then reads every matching row for its created_at (2.5 ms instead of
    // 0.2 ms on 1,000 of 1,000,000 rows). bucket = and the prefix range always make it usable.
    const BUCKET_PREFIX_HINT: &'static str = "INDEXED BY artifacts_bucket_name_created";
    fn placeholder(n: usize) -> String {
        format!("?{n}")
    }
    fn text(s: String) -> Value {
        Value::Text(s)
    }
    fn int(i: i64) -> Value {
        Value::Integer(i)
    }
    fn name_prefix(p: &str, w: &mut Where<Self>) {
        // Byte-wise prefix test (LIKE/GLOB would interpret wildcards and case); the range
        // condition lets the (bucket, name) index narrow the scan.
        let lo = w.arg(Value::Text(p.into()));
        // An upper bound too: with only `name >= lo` the planner walks the bucket in
        // creation order instead (5 ms instead of 20 µs on 20,000 rows; see benches/).
        if let Some(hi) = prefix_successor(p) {
            let hi = w.arg(Value::Text(hi));
            w.push(format!("name < {hi}"));
        }
        let len = w.arg(Value::Integer(p.len() as i64));
        let blob = w.arg(Value::Blob(p.as_bytes().to_vec()));
        w.push(format!("name >= {lo} AND substr(CAST(name AS BLOB), 1, {len}) = {blob}"));
    }
}

fn select_one(conn: &Connection, sql: &str, args: &[&dyn ToSql]) -> Result<Option<Record>, Error> {
    let mut st = conn.prepare_cached(sql).map_err(db_err)?;
    st.query_row(args, row_to_record).optional().map_err(db_err)
}

impl Metadata for SqliteMetadata {
    fn insert_if_absent(&self, rec: &Record) -> Result<Inserted, Error> {
        let values = record_values(rec)?;
        let out = self.writing(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
            let inserted = {
                let mut st = tx
                    .prepare_cached(&format!(
                        "INSERT INTO artifacts ({COLUMNS}) VALUES \
                         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                          ?18, ?19, ?20, ?21) \
                         ON CONFLICT (bucket, name) DO NOTHING"
                    ))
                    .map_err(db_err)?;
                match st.execute(rusqlite::params_from_iter(values.iter())) {
                    Ok(n) => Ok(n == 1),
                    Err(e) if is_constraint(&e) => Err(e),
                    Err(e) => return Err(db_err(e)),
                }
            };
            let out = match inserted {
                Ok(true) => Inserted { record: rec.clone(), created: true },
                // Lost to an existing (bucket, name), or hit another unique key: if (bucket,
                // name) is taken that row wins either way, otherwise the id or ref collided.
                other => match select_one(&tx, BY_NAME, &[&rec.bucket, &rec.name])? {
                    Some(winner) => Inserted { record: winner, created: false },
                    None => {
                        let detail = other.err().map(|e| e.to_string()).unwrap_or_default();
                        return Err(Error::Conflict(format!(
                            "id {} or ref {} is already taken ({detail})",
                            rec.id, rec.logical_ref
                        )));
                    }
                },
            };
            tx.commit().map_err(db_err)?;
            Ok(out)
        })?;
        if out.created {
            self.wrote();
        }
        Ok(out)
    }

    fn update(&self, rec: &Record) -> Result<(), Error> {
        let values = record_values(rec)?;
        self.writing(|conn| {
            let mut st = conn
                .prepare_cached(
                    "UPDATE artifacts SET bucket = ?2, name = ?3, logical_ref = ?4, kind = ?5, \
                     content_type = ?6, compression = ?7, bytes = ?8, stored_bytes = ?9, sha256 = ?10, \
                     driver = ?11, uri = ?12, scope = ?13, store_tier = ?14, execution_id = ?15, \
                     created_by = ?16, created_at = ?17, updated_at = ?18, expires_at = ?19, \
                     preview = ?20, extracted = ?21 WHERE id = ?1",
                )
                .map_err(db_err)?;
            match st.execute(rusqlite::params_from_iter(values.iter())) {
                Ok(0) => Err(Error::NotFound(format!("no artifact with id {}", rec.id))),
                Ok(_) => Ok(()),
                Err(e) if is_constraint(&e) => Err(Error::Conflict(format!(
                    "update of {} collides with another artifact: {e}",
                    rec.id
                ))),
                Err(e) => Err(db_err(e)),
            }
        })?;
        self.wrote();
        Ok(())
    }

    fn get_by_id(&self, id: &str) -> Result<Option<Record>, Error> {
        self.lookup(BY_ID, &[&id])
    }

    fn get_by_ref(&self, logical_ref: &str) -> Result<Option<Record>, Error> {
        self.lookup(BY_REF, &[&logical_ref])
    }

    fn get_by_name(&self, bucket: &str, name: &str) -> Result<Option<Record>, Error> {
        self.lookup(BY_NAME, &[&bucket, &name])
    }

    fn list(&self, q: &ListQuery) -> Result<Page, Error> {
        let limit = clamp_limit(q.limit);
        let (sql, args) = sql::list::<Sqlite>(q, COLUMNS, limit)?;
        let records = self.reading(|conn| {
            let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
            let rows = st
                .query_map(rusqlite::params_from_iter(args.iter()), row_to_record)
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err);
            rows
        })?;
        let (records, next_cursor) = page(records, limit, cursor::of);
        Ok(Page {
            records,
            next_cursor,
        })
    }

    fn summary(&self, bucket: &str) -> Result<BucketSummary, Error> {
        let (count, total): (i64, i64) = self.reading(|conn| {
            conn.prepare_cached("SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM artifacts WHERE bucket = ?1")
                .and_then(|mut st| st.query_row([bucket], |r| Ok((r.get(0)?, r.get(1)?))))
                .map_err(db_err)
        })?;
        Ok(BucketSummary {
            count: count.max(0) as u64,
            total_bytes: total.max(0) as u64,
        })
    }

    fn delete(&self, id: &str) -> Result<bool, Error> {
        let deleted = self.writing(|conn| {
            conn.prepare_cached("DELETE FROM artifacts WHERE id = ?1")
                .and_then(|mut st| st.execute([id]))
                .map(|n| n > 0)
                .map_err(db_err)
        })?;
        if deleted {
            self.wrote();
        }
        Ok(deleted)
    }

    fn pin_object(&self, uri: &str, holder: &str, now: Timestamp, until: Timestamp) -> Result<bool, Error> {
        let (now, until) = (to_i64(now, "now")?, to_i64(until, "until")?);
        self.claims_tx(|tx| {
            let busy: bool = tx
                .prepare_cached(&claim_sql(claims::LIVE_DELETE))?
                .query_row(params![uri, now], |r| r.get(0))?;
            if busy {
                return Ok(false);
            }
            tx.prepare_cached(&claim_sql(claims::PIN))?.execute(params![uri, holder, until])?;
            Ok(true)
        })
    }

    fn unpin_object(&self, uri: &str, holder: &str) -> Result<(), Error> {
        self.claims_tx(|tx| tx.prepare_cached(&claim_sql(claims::UNPIN))?.execute(params![uri, holder]).map(drop))
    }

    fn claim_delete(&self, uri: &str, now: Timestamp, until: Timestamp) -> Result<bool, Error> {
        let (now, until) = (to_i64(now, "now")?, to_i64(until, "until")?);
        self.claims_tx(|tx| {
            tx.prepare_cached(&claim_sql(claims::PRUNE))?.execute(params![uri, now])?;
            let busy: bool = tx.prepare_cached(&claim_sql(claims::BUSY))?.query_row(params![uri], |r| r.get(0))?;
            if busy {
                return Ok(false);
            }
            tx.prepare_cached(&claim_sql(claims::CLAIM))?.execute(params![uri, until])?;
            Ok(true)
        })
    }

    fn finish_delete(&self, uri: &str) -> Result<(), Error> {
        self.claims_tx(|tx| tx.prepare_cached(&claim_sql(claims::FINISH))?.execute(params![uri]).map(drop))
    }

    fn stale_claims(&self, before: Timestamp, limit: u32) -> Result<Vec<String>, Error> {
        let before = to_i64(before, "before")?;
        self.reading(|conn| {
            let mut st = conn.prepare_cached(&claim_sql(claims::STALE)).map_err(db_err)?;
            let rows = st
                .query_map(params![before, clamp_limit(limit) as i64], |r| r.get::<_, String>(0))
                .map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)
        })
    }

    fn touch(&self, id: &str, at: Timestamp) -> Result<(), Error> {
        let at = to_i64(at, "accessed_at")?;
        if self.reads.count(id, at) {
            self.flush_reads_unless_busy()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that cannot be opened (here: the database file was moved away; in a server, out
    /// of descriptors) leaves the lookup to the main connection: it answers, and no empty
    /// database is created in the file's place.
    #[test]
    fn a_lookup_falls_back_to_the_main_connection_when_no_reader_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sqlite");
        let m = SqliteMetadata::open(path.to_str().unwrap()).unwrap();
        let rec = crate::conformance::record("b", "n", 1_000);
        assert!(m.insert_if_absent(&rec).unwrap().created);
        std::fs::rename(&path, dir.path().join("moved.sqlite")).unwrap();
        assert_eq!(m.get_by_id(&rec.id).unwrap().map(|r| r.id), Some(rec.id.clone()));
        assert_eq!(m.get_by_name("b", "n").unwrap().map(|r| r.id), Some(rec.id));
        assert!(!path.exists(), "a reader created a database in the moved one's place");
    }

    /// Lookups run on the pool's connections: they neither wait for a write holding the main
    /// connection nor miss what it committed, and a deleted record is gone for the next one.
    #[test]
    fn lookups_do_not_wait_for_the_writer_connection() {
        let dir = tempfile::tempdir().unwrap();
        let m = Arc::new(SqliteMetadata::open(dir.path().join("m.sqlite").to_str().unwrap()).unwrap());
        let rec = crate::conformance::record("b", "n", 1_000);
        assert!(m.insert_if_absent(&rec).unwrap().created);
        let held = m.conn();
        let (tx, rx) = std::sync::mpsc::channel();
        let (m2, id) = (m.clone(), rec.id.clone());
        std::thread::spawn(move || {
            let found = [m2.get_by_id(&id), m2.get_by_ref(&format!("noetl://artifact/{id}")), m2.get_by_name("b", "n")];
            let _ = tx.send(found.map(|r| r.unwrap().map(|r| r.id)));
        });
        let found = rx.recv_timeout(Duration::from_secs(10)).expect("a lookup waited for the writer's connection");
        assert_eq!(found, [Some(rec.id.clone()), Some(rec.id.clone()), Some(rec.id.clone())]);
        drop(held);
        assert!(m.delete(&rec.id).unwrap());
        assert_eq!(m.get_by_id(&rec.id).unwrap(), None);
        assert_eq!(m.get_by_name("b", "n").unwrap(), None);
    }

    /// Reads never wait for writes. With the database's write lock held by another connection
    /// (as another process's `gc` or shell would hold it), then with this backend's write
    /// connection busy, lookups, listings, summaries and `touch`es that are due to flush all
    /// return at once; the counts they could not write are written later, none lost.
    #[test]
    fn reads_and_touches_do_not_wait_for_a_locked_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sqlite");
        let m = Arc::new(SqliteMetadata::open(path.to_str().unwrap()).unwrap());
        let rec = crate::conformance::record("b", "n", 1_000);
        assert!(m.insert_if_absent(&rec).unwrap().created);
        let reads = |at: Timestamp| {
            let (tx, rx) = std::sync::mpsc::channel();
            let (m, id) = (m.clone(), rec.id.clone());
            std::thread::spawn(move || {
                let r = (|| -> Result<_, Error> {
                    m.touch(&id, at)?;
                    let q = ListQuery { bucket: Some("b".into()), limit: 10, ..Default::default() };
                    Ok((m.get_by_id(&id)?.map(|r| r.id), m.list(&q)?.records.len(), m.summary("b")?.count))
                })();
                let _ = tx.send(r);
            });
            // The busy timeout is 5 s: a read that waited for the lock would miss this.
            let got = rx.recv_timeout(Duration::from_secs(3)).expect("a read waited for the locked database");
            assert_eq!(got.unwrap(), (Some(rec.id.clone()), 1, 1));
        };
        m.touch(&rec.id, 5).unwrap();
        std::thread::sleep(TOUCH_FLUSH + Duration::from_millis(50));
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        reads(7);
        other.execute_batch("ROLLBACK").unwrap();
        std::thread::sleep(TOUCH_FLUSH + Duration::from_millis(50));
        let held = m.conn();
        reads(6);
        drop(held);
        assert_eq!(m.access(&rec.id).unwrap(), Some((Some(7), 3)));
    }

    #[test]
    fn prefix_successor_bounds_every_extension() {
        assert_eq!(prefix_successor("t042/").as_deref(), Some("t0420"));
        assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        for p in ["t042/", "é", "a\u{D7FF}", "z\u{10FFFF}"] {
            let hi = prefix_successor(p).unwrap();
            for ext in ["", "\u{0}", "x", "\u{10FFFF}\u{10FFFF}"] {
                assert!(format!("{p}{ext}").as_bytes() < hi.as_bytes(), "{p:?}{ext:?} < {hi:?}");
            }
        }
    }

    /// The page of a prefix listing is chosen on the (bucket, name, created_at, id) index alone;
    /// only its rows are read from the table.
    #[test]
    fn prefix_listing_pages_on_the_index() {
        let m = SqliteMetadata::open(":memory:").unwrap();
        let q = ListQuery {
            bucket: Some("b".into()),
            name_prefix: Some("t042/".into()),
            limit: 100,
            ..Default::default()
        };
        let (sql, args) = sql::list::<Sqlite>(&q, COLUMNS, 100).unwrap();
        let conn = m.conn();
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan: Vec<String> = st
            .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let covering = format!("COVERING INDEX {NAME_CREATED_INDEX}");
        assert!(plan.iter().any(|p| p.contains(&covering)), "{plan:?}");
        assert!(plan.iter().any(|p| p.contains("INTEGER PRIMARY KEY (rowid=?)")), "{plan:?}");
    }

    /// Connections opening one new file at once (as processes sharing a new home do) all open
    /// it: none answers "database is locked" while another turns the file to WAL.
    #[test]
    fn connections_racing_to_open_a_new_file_all_open_it() {
        let dir = std::env::temp_dir().join(format!("artifact-sqlite-race-{}", std::process::id()));
        for round in 0..40 {
            let path = dir.join(format!("{round}.db"));
            let path = path.to_str().unwrap();
            let start = std::sync::Barrier::new(6);
            std::thread::scope(|s| {
                for _ in 0..6 {
                    s.spawn(|| {
                        start.wait();
                        let m = SqliteMetadata::open(path);
                        assert!(m.is_ok(), "round {round}: {:?}", m.err());
                    });
                }
            });
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn migration_is_idempotent() {
        let dir = std::env::temp_dir().join(format!("artifact-sqlite-{}", std::process::id()));
        let path = dir.join("nested/meta.db");
        let path = path.to_str().unwrap();
        drop(SqliteMetadata::open(path).unwrap());
        let m = SqliteMetadata::open(path).unwrap();
        let v: i64 = m
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let mode: String = m
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(m);
        let _ = std::fs::remove_dir_all(dir);
    }
}

"""SQLite metadata on the standard `sqlite3` module: the Rust host's `sqlite` backend
(host/src/metadata/sqlite.rs, the listing and claim statements of host/src/metadata/sql.rs) in
Python, on the same file format, so both hosts (and any number of processes) can share one
`metadata.db`.

The schema is `schema.sql`, the one file every host runs at open: a copy inside the package when
it is installed, else the repository's `host/src/metadata/schema.sql`. Stored values are the Rust
host's (e.g. kind `result_ref`); records come back as component `Record`s, as from `MemMetadata`.

Every write is one `BEGIN IMMEDIATE` transaction: writers serialize on SQLite's write lock
across processes (5 s busy timeout) and threads of one process on a lock, so
`insert_if_absent` is the atomic get-or-create of the WIT contract across processes.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from wasmtime.component import Record

from .backends import BackendError, decode_cursor, encode_cursor, rec

__all__ = ["SqliteMetadata", "SCHEMA_VERSION", "schema_path"]

#: The schema version this code writes (`PRAGMA user_version`).
SCHEMA_VERSION = 1
#: The index that serves listings by bucket and name prefix.
NAME_CREATED_INDEX = "artifacts_bucket_name_created"
I64_MAX = 2**63 - 1
U64_MAX = 2**64 - 1
MAX_PAGE = 1000
BUSY_TIMEOUT_S = 5.0

_HERE = Path(__file__).resolve().parent
#: Where `schema.sql` is looked for: the package's copy, then the repository's.
SCHEMA_PATHS = (_HERE / "schema.sql", _HERE.parent.parent.parent / "host/src/metadata/schema.sql")
_schema: str | None = None

COLUMNS = ("id, bucket, name, logical_ref, kind, content_type, compression, bytes, stored_bytes, "
           "sha256, driver, uri, scope, store_tier, execution_id, created_by, created_at, "
           "updated_at, expires_at, preview, extracted")
_PLACEHOLDERS = ", ".join(f"?{i}" for i in range(1, 22))
INSERT = f"INSERT INTO artifacts ({COLUMNS}) VALUES ({_PLACEHOLDERS}) ON CONFLICT (bucket, name) DO NOTHING"
UPDATE = ("UPDATE artifacts SET bucket = ?2, name = ?3, logical_ref = ?4, kind = ?5, content_type = ?6, "
          "compression = ?7, bytes = ?8, stored_bytes = ?9, sha256 = ?10, driver = ?11, uri = ?12, "
          "scope = ?13, store_tier = ?14, execution_id = ?15, created_by = ?16, created_at = ?17, "
          "updated_at = ?18, expires_at = ?19, preview = ?20, extracted = ?21 WHERE id = ?1")
BY_ID = f"SELECT {COLUMNS} FROM artifacts WHERE id = ?1"
BY_REF = f"SELECT {COLUMNS} FROM artifacts WHERE logical_ref = ?1"
BY_NAME = f"SELECT {COLUMNS} FROM artifacts WHERE bucket = ?1 AND name = ?2"
SUMMARY = "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM artifacts WHERE bucket = ?1"
DELETE = "DELETE FROM artifacts WHERE id = ?1"
TOUCH = ("UPDATE artifacts SET accessed_at = MAX(COALESCE(accessed_at, 0), ?2), "
         "access_count = access_count + 1 WHERE id = ?1")
ACCESS = "SELECT accessed_at, access_count FROM artifacts WHERE id = ?1"


class claims:
    """The object-claim statements of sql.rs (`claims`), `$n` read as `?n`. A pin's holder is the
    writer's token; the delete claim has the empty holder."""
    LIVE_DELETE = "SELECT EXISTS (SELECT 1 FROM object_claims WHERE uri = ?1 AND holder = '' AND until > ?2)"
    PIN = ("INSERT INTO object_claims (uri, holder, until) VALUES (?1, ?2, ?3) "
           "ON CONFLICT (uri, holder) DO UPDATE SET until = excluded.until")
    UNPIN = "DELETE FROM object_claims WHERE uri = ?1 AND holder = ?2 AND holder <> ''"
    PRUNE = "DELETE FROM object_claims WHERE uri = ?1 AND until <= ?2"
    BUSY = ("SELECT EXISTS (SELECT 1 FROM artifacts WHERE uri = ?1) "
            "OR EXISTS (SELECT 1 FROM object_claims WHERE uri = ?1)")
    CLAIM = "INSERT INTO object_claims (uri, holder, until) VALUES (?1, '', ?2)"
    FINISH = "DELETE FROM object_claims WHERE uri = ?1 AND holder = ''"
    STALE = "SELECT DISTINCT uri FROM object_claims WHERE until <= ?1 ORDER BY uri LIMIT ?2"


# WIT enum case → stored text (the Rust model's `as_str`), and every stored text each parses from.
_KIND_OUT = {"result-ref": "result_ref", "temp-ref": "temp_ref", "manifest": "manifest"}
_KIND_IN = {"result_ref": "result-ref", "result-ref": "result-ref", "temp_ref": "temp-ref",
            "temp-ref": "temp-ref", "manifest": "manifest"}
_COMPRESSION_IN = {"none": "none", "": "none", "gzip": "gzip", "deflate": "deflate"}
_SCOPES = frozenset(("step", "execution", "workflow", "permanent"))


def schema_path() -> Path:
    """The `schema.sql` this module runs: the package's copy, else the repository's."""
    for p in SCHEMA_PATHS:
        if p.is_file():
            return p
    raise BackendError("metadata", "schema.sql not found in " + " or ".join(map(str, SCHEMA_PATHS)))


def schema() -> str:
    global _schema
    if _schema is None:
        _schema = schema_path().read_text(encoding="utf-8")
    return _schema


def _statements(script: str):
    """The statements of `script`, one at a time (`executescript` would commit the caller's
    transaction first)."""
    buf = ""
    for part in script.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \t\r\n;"):
                yield buf
            buf = ""


def _db(e: Exception) -> BackendError:
    return BackendError("metadata", f"sqlite: {e}")


def to_i64(v: int, field: str) -> int:
    """Stored integers are i64; values beyond are rejected on write."""
    if not 0 <= v <= I64_MAX:
        raise BackendError("invalid-argument", f"{field} {v} exceeds the storable range")
    return v


def _enum(table, v, what: str) -> str:
    try:
        return table[v]
    except KeyError:
        raise BackendError("invalid-argument", f"unknown {what} {v!r}") from None


def _values(r: Record) -> tuple:
    """Record field values in COLUMNS order."""
    g = lambda name: getattr(r, name)  # noqa: E731
    exp = g("expires-at")
    if g("scope") not in _SCOPES:
        raise BackendError("invalid-argument", f"unknown scope {g('scope')!r}")
    return (
        r.id, r.bucket, r.name, g("logical-ref"), _enum(_KIND_OUT, g("kind"), "kind"),
        g("content-type"), _enum(_COMPRESSION_IN, g("compression"), "compression"),
        to_i64(r.bytes, "bytes"), to_i64(g("stored-bytes"), "stored_bytes"), r.sha256,
        r.location.driver, r.location.uri, g("scope"), g("store-tier"), g("execution-id"),
        g("created-by"), to_i64(g("created-at"), "created_at"), to_i64(g("updated-at"), "updated_at"),
        None if exp is None else to_i64(exp, "expires_at"), r.preview, r.extracted,
    )


class _BadRow(Exception):
    pass


def _record(row) -> Record:
    """A row of COLUMNS → artifact-record; a value no record can hold is a metadata error."""
    def parsed(i, table):
        v = row[i]
        if v not in table:
            raise _BadRow(f"column {i}: invalid value {v!r}")
        return table[v]

    def uint(i):
        v = row[i]
        if not isinstance(v, int) or v < 0:
            raise _BadRow(f"column {i}: integer value {v!r} out of range")
        return v

    scope = row[12]
    if scope not in _SCOPES:
        raise _BadRow(f"column 12: invalid value {scope!r}")
    return rec(
        id=row[0], bucket=row[1], name=row[2], logical_ref=row[3], kind=parsed(4, _KIND_IN),
        content_type=row[5], compression=parsed(6, _COMPRESSION_IN), bytes=uint(7),
        stored_bytes=uint(8), sha256=row[9], location=rec(driver=row[10], uri=row[11]),
        scope=scope, store_tier=row[13], execution_id=row[14], created_by=row[15],
        created_at=uint(16), updated_at=uint(17), expires_at=None if row[18] is None else uint(18),
        preview=row[19], extracted=row[20],
    )


def _records(rows) -> list:
    try:
        return [_record(r) for r in rows]
    except _BadRow as e:
        raise BackendError("metadata", f"sqlite: {e}") from None


def prefix_successor(p: str):
    """The smallest string greater than every string that starts with `p` (byte-wise, which for
    UTF-8 is code point order): `p` with its last incrementable char incremented and the rest cut.
    `None` when every char is U+10FFFF (no upper bound)."""
    chars = list(p)
    while chars:
        c = ord(chars.pop())
        if c == 0xD7FF:
            chars.append("\ue000")
        elif c < 0x10FFFF:
            chars.append(chr(c + 1))
        else:
            continue
        return "".join(chars)
    return None


def clamp_limit(limit: int) -> int:
    return min(max(limit, 1), MAX_PAGE)


def list_sql(q: Record, limit: int):
    """sql.rs `list` for SQLite: the statement for list-query `q` (at most `limit + 1` rows, from
    after its cursor in its order) and the values to bind. The page is chosen on keys only, then
    its rows are read."""
    g = lambda name: getattr(q, name)  # noqa: E731
    after = None
    if q.cursor is not None:
        after = decode_cursor(q.cursor)
        if after[0] > U64_MAX:
            raise BackendError("invalid-argument", f"malformed cursor {q.cursor!r}")
    clauses, args = [], []

    def arg(v) -> str:
        args.append(v)
        return f"?{len(args)}"

    # Timestamps beyond i64 cannot be stored: such a bound excludes every row or none.
    def bound(t):
        return t if t <= I64_MAX else None

    if q.bucket is not None:
        clauses.append(f"bucket = {arg(q.bucket)}")
    if q.name is not None:
        clauses.append(f"name = {arg(q.name)}")
    prefix = g("name-prefix")
    if prefix:
        # Byte-wise (LIKE / GLOB would read wildcards and case); the range lets the index narrow
        # the scan, the upper bound keeps the planner off the bucket's creation order.
        lo = arg(prefix)
        hi = prefix_successor(prefix)
        if hi is not None:
            clauses.append(f"name < {arg(hi)}")
        b = prefix.encode()
        n = arg(len(b))
        clauses.append(f"name >= {lo} AND substr(CAST(name AS BLOB), 1, {n}) = {arg(b)}")
    if g("created-by") is not None:
        clauses.append(f"created_by = {arg(g('created-by'))}")
    if g("created-after") is not None:
        t = bound(g("created-after"))
        clauses.append("0" if t is None else f"created_at >= {arg(t)}")
    if g("created-before") is not None and bound(g("created-before")) is not None:
        clauses.append(f"created_at < {arg(g('created-before'))}")
    if q.uri is not None:
        clauses.append(f"uri = {arg(q.uri)}")
    if g("expired-before") is not None:
        t = bound(g("expired-before"))
        clauses.append("expires_at IS NOT NULL" if t is None else f"expires_at < {arg(t)}")
    newest = q.order == "newest-first"
    cmp, direction = ("<", "DESC") if newest else (">", "ASC")
    if after is not None:
        t = bound(after[0])
        if t is not None:
            clauses.append(f"(created_at, id) {cmp} ({arg(t)}, {arg(after[1])})")
        elif not newest:
            clauses.append("0")
    lim = arg(limit + 1)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    hint = f"INDEXED BY {NAME_CREATED_INDEX}" if q.bucket is not None and prefix else ""
    order = f"ORDER BY created_at {direction}, id {direction}"
    sql = (f"SELECT {COLUMNS} FROM artifacts WHERE rowid IN "
           f"(SELECT rowid FROM artifacts {hint} {where} {order} LIMIT {lim}) {order}")
    return sql, args


class SqliteMetadata:
    """Metadata in a SQLite database file (WAL mode), the Rust host's `sqlite://` backend: one
    `artifacts` table unique on id, logical ref and (bucket, name), and the `object_claims` of
    the deletion contract. Several processes (and the Rust host) may share the file.

    `path` is what follows `sqlite://` in a backend URI; `:memory:` is a private in-memory
    database. Failures raise `BackendError` with the kinds of `MemMetadata`."""

    def __init__(self, path):
        path = os.fspath(path)
        if not path:
            raise BackendError("invalid-argument", "empty sqlite path")
        self.path = path
        self._lock = threading.Lock()
        if path != ":memory:":
            parent = os.path.dirname(path)
            if parent:
                try:
                    os.makedirs(parent, exist_ok=True)
                except OSError as e:
                    raise BackendError("metadata", f"create {parent}: {e}") from None
        try:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as e:
            raise BackendError("metadata", f"open {path}: {e}") from None
        try:
            _wal_mode(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            _migrate(conn)
        except sqlite3.Error as e:
            conn.close()
            raise _db(e) from None
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def close(self):
        with self._lock:
            self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"SqliteMetadata({self.path!r})"

    # -- plumbing -------------------------------------------------------------------------------

    def _read(self, fn):
        with self._lock:
            try:
                return fn(self._conn)
            except sqlite3.Error as e:
                raise _db(e) from None

    def _write(self, fn):
        """Runs `fn(conn)` in an immediate (write-locked) transaction: writes never interleave,
        across threads (the lock) and processes (the database lock)."""
        with self._lock:
            c = self._conn
            try:
                c.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise _db(e) from None
            try:
                out = fn(c)
                c.execute("COMMIT")
                return out
            except BaseException as e:
                if c.in_transaction:
                    try:
                        c.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                if isinstance(e, sqlite3.Error):
                    raise _db(e) from None
                raise

    def _one(self, sql: str, args) -> Record | None:
        rows = self._read(lambda c: c.execute(sql, args).fetchmany(1))
        return _records(rows)[0] if rows else None

    # -- records --------------------------------------------------------------------------------

    def insert_if_absent(self, r: Record) -> Record:
        """Inserts `r` unless (bucket, name) is taken; returns {record: the winner, created}."""
        values = _values(r)

        def tx(c):
            detail = ""
            try:
                inserted = c.execute(INSERT, values).rowcount == 1
            except sqlite3.IntegrityError as e:
                inserted, detail = False, str(e)
            if inserted:
                return rec(record=r, created=True)
            # Lost to an existing (bucket, name), or hit another unique key: if (bucket, name)
            # is taken that row wins either way, otherwise the id or ref collided.
            winner = _records(c.execute(BY_NAME, (r.bucket, r.name)).fetchmany(1))
            if winner:
                return rec(record=winner[0], created=False)
            raise BackendError("conflict", f"id {r.id} or ref {getattr(r, 'logical-ref')} is "
                                           f"already taken ({detail})")

        return self._write(tx)

    def update(self, r: Record):
        """Replaces the record with the same id: `not-found` if absent, `conflict` if it would
        take another record's ref or (bucket, name)."""
        values = _values(r)

        def tx(c):
            try:
                n = c.execute(UPDATE, values).rowcount
            except sqlite3.IntegrityError as e:
                raise BackendError("conflict", f"update of {r.id} collides with another artifact: {e}") from None
            if n == 0:
                raise BackendError("not-found", f"no artifact with id {r.id}")

        self._write(tx)

    def get_by_id(self, id_: str):
        return self._one(BY_ID, (id_,))

    def get_by_ref(self, ref: str):
        return self._one(BY_REF, (ref,))

    def get_by_name(self, bucket: str, name: str):
        return self._one(BY_NAME, (bucket, name))

    def list(self, q: Record) -> Record:
        limit = clamp_limit(q.limit)
        sql, args = list_sql(q, limit)
        records = _records(self._read(lambda c: c.execute(sql, args).fetchall()))
        nxt = None
        if len(records) > limit:
            records = records[:limit]
            nxt = encode_cursor(getattr(records[-1], "created-at"), records[-1].id)
        return rec(records=records, next_cursor=nxt)

    def summary(self, bucket: str) -> Record:
        count, total = self._read(lambda c: c.execute(SUMMARY, (bucket,)).fetchone())
        return rec(count=max(count, 0), total_bytes=max(total, 0))

    def delete(self, id_: str) -> bool:
        return self._write(lambda c: c.execute(DELETE, (id_,)).rowcount > 0)

    def touch(self, id_: str, at: int):
        """Records a read: `accessed_at` (never moved back) and `access_count`."""
        at = to_i64(at, "accessed_at")
        self._write(lambda c: c.execute(TOUCH, (id_, at)))

    def access(self, id_: str):
        """(accessed_at or None, access_count) of the artifact; None if there is no such artifact."""
        row = self._read(lambda c: c.execute(ACCESS, (id_,)).fetchone())
        if row is None:
            return None
        at, n = row
        return (None if at is None else max(at, 0), max(n, 0))

    # -- object claims (wit/metadata.wit, "the deletion contract") ----------------------------

    def pin_object(self, uri: str, holder: str, now: int, until: int) -> bool:
        now, until = to_i64(now, "now"), to_i64(until, "until")

        def tx(c):
            if c.execute(claims.LIVE_DELETE, (uri, now)).fetchone()[0]:
                return False
            c.execute(claims.PIN, (uri, holder, until))
            return True

        return self._write(tx)

    def unpin_object(self, uri: str, holder: str):
        self._write(lambda c: c.execute(claims.UNPIN, (uri, holder)))

    def claim_delete(self, uri: str, now: int, until: int) -> bool:
        now, until = to_i64(now, "now"), to_i64(until, "until")

        def tx(c):
            c.execute(claims.PRUNE, (uri, now))
            if c.execute(claims.BUSY, (uri,)).fetchone()[0]:
                return False
            c.execute(claims.CLAIM, (uri, until))
            return True

        return self._write(tx)

    def finish_delete(self, uri: str):
        self._write(lambda c: c.execute(claims.FINISH, (uri,)))

    def stale_claims(self, before: int, limit: int) -> list[str]:
        before = to_i64(before, "before")
        rows = self._read(lambda c: c.execute(claims.STALE, (before, clamp_limit(limit))).fetchall())
        return [r[0] for r in rows]


def _wal_mode(conn: sqlite3.Connection) -> str:
    """Turns the database to WAL; returns the journal mode it has (in-memory databases report
    "memory" and stay that way). While another connection turns a fresh file to WAL, SQLite can
    answer this pragma "database is locked" without calling the busy handler (seen with processes
    opening one new home at once), so it is retried within the same busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            return conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as e:
            code = getattr(e, "sqlite_errorcode", None)  # Python 3.11+
            busy = "database is locked" in str(e) if code is None else code & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


def _migrate(conn: sqlite3.Connection):
    """Creates or upgrades the schema in one immediate transaction (schema.sql is idempotent)."""
    script = schema()  # before the transaction: a missing file is not a database error
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise BackendError("metadata", f"database schema version {version} is newer than this "
                                           f"build supports ({SCHEMA_VERSION})")

        def exists(kind, name):
            return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = ?1 AND name = ?2",
                                (kind, name)).fetchone()[0] > 0

        new_index = not exists("index", NAME_CREATED_INDEX)
        for stmt in _statements(script):
            conn.execute(stmt)
        # A database that was ANALYZEd but has no statistics for a new index gets plans that
        # misjudge it (e.g. sorting a whole bucket by name instead of walking it in creation order).
        if new_index and exists("table", "sqlite_stat1"):
            conn.execute(f"ANALYZE {NAME_CREATED_INDEX}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise

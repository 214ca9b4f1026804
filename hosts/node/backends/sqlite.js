// SQLite metadata on better-sqlite3: the Rust host's `sqlite` backend (host/src/metadata/sqlite.rs
// and the shared statements of host/src/metadata/sql.rs) in JavaScript, on the same schema file
// (host/src/metadata/schema.sql, copied into the package as gen/schema.sql by build.js), so the
// Rust CLI, the Python host and this one can share one `metadata.db`. WAL journal, synchronous
// NORMAL, 5 s busy timeout; every write runs in a BEGIN IMMEDIATE transaction, so several
// processes serialize on SQLite's write lock (the one Node thread needs no mutex).
//
// Not ported: the Rust backend's background checkpoint thread (SQLite's own autocheckpoint at
// 1,000 pages runs inside the write that crosses it instead).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { conflict, invalidArgument, metadataError, notFound } from './errors.js';
import { decodeCursor, encodeCursor } from './cursor.js';

/** The schema version this code writes (`PRAGMA user_version`). */
export const SCHEMA_VERSION = 1;
const NAME_CREATED_INDEX = 'artifacts_bucket_name_created';
const I64_MAX = (1n << 63n) - 1n;

const here = path.dirname(fileURLToPath(import.meta.url));
/** Where the schema is looked for: the package's copy, else the repository's file. */
export const SCHEMA_PATHS = [
  path.join(here, '..', 'gen', 'schema.sql'),
  path.join(here, '..', '..', '..', 'host', 'src', 'metadata', 'schema.sql'),
];
let schemaText;
/** The schema every host runs at open (schema.sql). */
export function schema() {
  if (schemaText === undefined) {
    const file = SCHEMA_PATHS.find((p) => fs.existsSync(p));
    if (!file) throw metadataError(`schema.sql not found (looked in ${SCHEMA_PATHS.join(', ')}); run \`npm run build\``);
    schemaText = fs.readFileSync(file, 'utf8');
  }
  return schemaText;
}

/** The record columns, in `Record` field order (location as driver, uri). */
const COLUMNS = 'id, bucket, name, logical_ref, kind, content_type, compression, bytes, '
  + 'stored_bytes, sha256, driver, uri, scope, store_tier, execution_id, created_by, created_at, '
  + 'updated_at, expires_at, preview, extracted';

// WIT enum case ↔ the spelling the Rust host stores (Kind::as_str / Kind::parse).
const KIND_TO_DB = { 'result-ref': 'result_ref', 'temp-ref': 'temp_ref', manifest: 'manifest' };
const KIND_FROM_DB = { result_ref: 'result-ref', 'result-ref': 'result-ref', temp_ref: 'temp-ref', 'temp-ref': 'temp-ref', manifest: 'manifest' };
const COMPRESSION_FROM_DB = { none: 'none', '': 'none', gzip: 'gzip', deflate: 'deflate' };
const SCOPES = new Set(['step', 'execution', 'workflow', 'permanent']);

/** `?n` / `$n` placeholders → better-sqlite3's named `@pn` (it does not bind `?NNN`). */
const named = (sql) => sql.replace(/[?$](\d+)/g, '@p$1');
const bindings = (args) => Object.fromEntries(args.map((v, i) => [`p${i + 1}`, v]));

/** Stored integers are i64; values beyond are rejected on write. */
function toI64(v, field) {
  const b = typeof v === 'bigint' ? v : BigInt(v);
  if (b > I64_MAX || b < 0n) throw invalidArgument(`${field} ${b} exceeds the storable range`);
  return b;
}

/** How long a connection waits for another one's lock before it answers "database is locked". */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Turns `db` to WAL. While another connection turns a fresh file to WAL, SQLite can answer this
 * pragma SQLITE_BUSY without calling the busy handler (seen with processes opening one new home
 * at once), so it is retried within the same busy timeout.
 */
function walMode(db) {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try { return db.pragma('journal_mode = WAL', { simple: true }); } catch (e) {
      if (e?.code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw e;
      Atomics.wait(nap, 0, 0, 5);
    }
  }
}

const isConstraint = (e) => typeof e?.code === 'string' && e.code.startsWith('SQLITE_CONSTRAINT');
const dbErr = (e) => (e && typeof e === 'object' && 'tag' in e ? e : metadataError(`sqlite: ${e?.message ?? e}`));

/** `Record` field values in COLUMNS order. */
function recordValues(r) {
  const kind = KIND_TO_DB[r.kind];
  if (kind === undefined) throw invalidArgument(`unknown kind ${JSON.stringify(r.kind)}`);
  const optText = (v) => (v === undefined || v === null ? null : v);
  const optInt = (v, f) => (v === undefined || v === null ? null : toI64(v, f));
  return [
    r.id, r.bucket, r.name, r.logicalRef, kind, r.contentType, r.compression,
    toI64(r.bytes, 'bytes'), toI64(r.storedBytes, 'stored_bytes'), r.sha256,
    r.location.driver, r.location.uri, r.scope, r.storeTier,
    optText(r.executionId), optText(r.createdBy),
    toI64(r.createdAt, 'created_at'), toI64(r.updatedAt, 'updated_at'), optInt(r.expiresAt, 'expires_at'),
    optText(r.preview), optText(r.extracted),
  ];
}

/** A row (array of COLUMNS, integers as BigInt) → the WIT `artifact-record` (camelCase). */
function rowToRecord(row) {
  const bad = (col, v) => metadataError(`sqlite: column ${col} holds ${JSON.stringify(String(v))}, not a valid value`);
  const uint = (i, col) => {
    const v = row[i];
    if (typeof v !== 'bigint' || v < 0n) throw bad(col, v);
    return v;
  };
  const opt = (v) => (v === null ? undefined : v);
  const kind = KIND_FROM_DB[row[4]];
  if (kind === undefined) throw bad('kind', row[4]);
  const compression = COMPRESSION_FROM_DB[row[6]];
  if (compression === undefined) throw bad('compression', row[6]);
  if (!SCOPES.has(row[12])) throw bad('scope', row[12]);
  return {
    id: row[0],
    bucket: row[1],
    name: row[2],
    logicalRef: row[3],
    kind,
    contentType: row[5],
    compression,
    bytes: uint(7, 'bytes'),
    storedBytes: uint(8, 'stored_bytes'),
    sha256: row[9],
    location: { driver: row[10], uri: row[11] },
    scope: row[12],
    storeTier: row[13],
    executionId: opt(row[14]),
    createdBy: opt(row[15]),
    createdAt: uint(16, 'created_at'),
    updatedAt: uint(17, 'updated_at'),
    expiresAt: row[18] === null ? undefined : uint(18, 'expires_at'),
    preview: opt(row[19]),
    extracted: opt(row[20]),
  };
}

/**
 * The smallest string greater than every string that starts with `p` (byte-wise, which for UTF-8
 * is code point order): `p` with its last incrementable code point incremented and the rest cut.
 * `undefined` when every code point is U+10FFFF (no upper bound).
 */
export function prefixSuccessor(p) {
  const cps = [...p].map((c) => c.codePointAt(0));
  while (cps.length) {
    const c = cps.pop();
    const next = c === 0xd7ff ? 0xe000 : c + 1;
    if (next <= 0x10ffff) {
      cps.push(next);
      return String.fromCodePoint(...cps);
    }
  }
  return undefined;
}

const clampLimit = (limit) => Math.min(Math.max(Number(limit), 1), 1000);

/**
 * `SELECT COLUMNS FROM artifacts` filtered by `q`, from after its cursor in its order, at most
 * `limit + 1` rows: sql::list with SQLite's dialect. The page is chosen on keys (rowid) only,
 * then its rows are read.
 */
export function listSql(q, limit) {
  const after = q.cursor === undefined || q.cursor === null ? undefined : decodeCursor(q.cursor);
  const clauses = [];
  const args = [];
  const arg = (v) => { args.push(v); return `?${args.length}`; };
  // Timestamps beyond i64 cannot be stored: such a bound excludes every row or none.
  const bound = (t) => (t === undefined || t === null ? undefined : (BigInt(t) <= I64_MAX ? BigInt(t) : null));
  const given = (v) => v !== undefined && v !== null;
  if (given(q.bucket)) clauses.push(`bucket = ${arg(q.bucket)}`);
  if (given(q.name)) clauses.push(`name = ${arg(q.name)}`);
  const hasPrefix = given(q.namePrefix) && q.namePrefix !== '';
  if (hasPrefix) {
    // Byte-wise prefix test (LIKE/GLOB would interpret wildcards and case); the range lets the
    // (bucket, name) index narrow the scan, and the upper bound keeps the planner on it.
    const p = q.namePrefix;
    const lo = arg(p);
    const succ = prefixSuccessor(p);
    if (succ !== undefined) clauses.push(`name < ${arg(succ)}`);
    const blob = Buffer.from(p, 'utf8');
    const len = arg(BigInt(blob.length));
    clauses.push(`name >= ${lo} AND substr(CAST(name AS BLOB), 1, ${len}) = ${arg(blob)}`);
  }
  if (given(q.createdBy)) clauses.push(`created_by = ${arg(q.createdBy)}`);
  if (given(q.createdAfter)) {
    const t = bound(q.createdAfter);
    clauses.push(t === null ? '0' : `created_at >= ${arg(t)}`);
  }
  if (given(q.createdBefore)) {
    const t = bound(q.createdBefore);
    if (t !== null) clauses.push(`created_at < ${arg(t)}`);
  }
  if (given(q.uri)) clauses.push(`uri = ${arg(q.uri)}`);
  if (given(q.expiredBefore)) {
    const t = bound(q.expiredBefore);
    clauses.push(t === null ? 'expires_at IS NOT NULL' : `expires_at < ${arg(t)}`);
  }
  const newest = q.order === 'newest-first';
  const [cmp, dir] = newest ? ['<', 'DESC'] : ['>', 'ASC'];
  if (after) {
    const t = bound(after[0]);
    if (t !== null) clauses.push(`(created_at, id) ${cmp} (${arg(t)}, ${arg(after[1])})`);
    else if (!newest) clauses.push('0');
  }
  const limitArg = arg(BigInt(limit) + 1n);
  const filter = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
  const hint = given(q.bucket) && hasPrefix ? `INDEXED BY ${NAME_CREATED_INDEX}` : '';
  const order = `ORDER BY created_at ${dir}, id ${dir}`;
  const sql = `SELECT ${COLUMNS} FROM artifacts WHERE rowid IN `
    + `(SELECT rowid FROM artifacts ${hint} ${filter} ${order} LIMIT ${limitArg}) ${order}`;
  return { sql, args };
}

/** The object-claim statements of sql.rs (`claims`), `$n` placeholders. */
export const CLAIMS = {
  LIVE_DELETE: "SELECT EXISTS (SELECT 1 FROM object_claims WHERE uri = $1 AND holder = '' AND until > $2)",
  PIN: 'INSERT INTO object_claims (uri, holder, until) VALUES ($1, $2, $3) '
    + 'ON CONFLICT (uri, holder) DO UPDATE SET until = excluded.until',
  UNPIN: "DELETE FROM object_claims WHERE uri = $1 AND holder = $2 AND holder <> ''",
  PRUNE: 'DELETE FROM object_claims WHERE uri = $1 AND until <= $2',
  BUSY: 'SELECT EXISTS (SELECT 1 FROM artifacts WHERE uri = $1) '
    + 'OR EXISTS (SELECT 1 FROM object_claims WHERE uri = $1)',
  CLAIM: "INSERT INTO object_claims (uri, holder, until) VALUES ($1, '', $2)",
  FINISH: "DELETE FROM object_claims WHERE uri = $1 AND holder = ''",
  STALE: 'SELECT DISTINCT uri FROM object_claims WHERE until <= $1 ORDER BY uri LIMIT $2',
};

const INSERT = `INSERT INTO artifacts (${COLUMNS}) VALUES `
  + '(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21) '
  + 'ON CONFLICT (bucket, name) DO NOTHING';
const UPDATE = 'UPDATE artifacts SET bucket = ?2, name = ?3, logical_ref = ?4, kind = ?5, '
  + 'content_type = ?6, compression = ?7, bytes = ?8, stored_bytes = ?9, sha256 = ?10, '
  + 'driver = ?11, uri = ?12, scope = ?13, store_tier = ?14, execution_id = ?15, '
  + 'created_by = ?16, created_at = ?17, updated_at = ?18, expires_at = ?19, '
  + 'preview = ?20, extracted = ?21 WHERE id = ?1';
const TOUCH = 'UPDATE artifacts SET accessed_at = MAX(COALESCE(accessed_at, 0), ?2), '
  + 'access_count = access_count + 1 WHERE id = ?1';

/**
 * Metadata in a SQLite database file (`:memory:` for a private in-memory database). Several
 * processes may share the file: each write is one IMMEDIATE transaction.
 */
export class SqliteMetadata {
  constructor(file) {
    if (typeof file !== 'string' || file === '') throw invalidArgument('empty sqlite path');
    this.file = file;
    try {
      if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    } catch (e) { throw metadataError(`create ${path.dirname(file)}: ${e.message}`); }
    try {
      this.db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    } catch (e) { throw metadataError(`open ${file}: ${e.message}`); }
    try {
      this.db.defaultSafeIntegers(true); // every integer as a BigInt, both ways
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      walMode(this.db); // in-memory databases stay "memory"
      this.db.pragma('synchronous = NORMAL');
      this.#migrate();
    } catch (e) {
      this.db.close();
      throw dbErr(e);
    }
    this.stmts = new Map();
  }

  #migrate() {
    const db = this.db;
    const exists = (kind, name) => db.prepare('SELECT count(*) FROM sqlite_master WHERE type = ? AND name = ?')
      .pluck().get(kind, name) > 0n;
    db.transaction(() => {
      const version = db.pragma('user_version', { simple: true });
      if (version > BigInt(SCHEMA_VERSION)) {
        throw metadataError(`database schema version ${version} is newer than this build supports (${SCHEMA_VERSION})`);
      }
      const newIndex = !exists('index', NAME_CREATED_INDEX);
      db.exec(schema());
      // A database ANALYZEd without statistics for a new index gets plans that misjudge it.
      if (newIndex && exists('table', 'sqlite_stat1')) db.exec(`ANALYZE ${NAME_CREATED_INDEX}`);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  }

  /** A cached prepared statement (`?n` / `$n` placeholders). */
  st(sql) {
    let s = this.stmts.get(sql);
    if (!s) { s = this.db.prepare(named(sql)); this.stmts.set(sql, s); }
    return s;
  }

  /** Runs `f` in a BEGIN IMMEDIATE transaction; errors become WIT errors. */
  tx(f) {
    try { return this.db.transaction(f).immediate(); } catch (e) { throw dbErr(e); }
  }

  /** Runs a read; errors become WIT errors. */
  read(f) {
    try { return f(); } catch (e) { throw dbErr(e); }
  }

  /** Closes the connection (the last one to close checkpoints and removes the WAL). */
  close() { if (this.db.open) this.db.close(); }

  #byName(bucket, name) {
    const row = this.st(`SELECT ${COLUMNS} FROM artifacts WHERE bucket = ?1 AND name = ?2`).raw().get(bindings([bucket, name]));
    return row === undefined ? undefined : rowToRecord(row);
  }

  insertIfAbsent(rec) {
    const values = bindings(recordValues(rec));
    return this.tx(() => {
      let inserted, clash;
      try { inserted = this.st(INSERT).run(values).changes === 1; } catch (e) {
        if (!isConstraint(e)) throw e;
        inserted = false;
        clash = e;
      }
      if (inserted) return { record: rec, created: true };
      // Lost to an existing (bucket, name), or hit another unique key: if (bucket, name) is
      // taken that row wins either way, otherwise the id or ref collided.
      const winner = this.#byName(rec.bucket, rec.name);
      if (winner) return { record: winner, created: false };
      throw conflict(`id ${rec.id} or ref ${rec.logicalRef} is already taken (${clash ? clash.message : ''})`);
    });
  }

  update(rec) {
    const values = bindings(recordValues(rec));
    this.tx(() => {
      let changes;
      try { changes = this.st(UPDATE).run(values).changes; } catch (e) {
        if (isConstraint(e)) throw conflict(`update of ${rec.id} collides with another artifact: ${e.message}`);
        throw e;
      }
      if (changes === 0) throw notFound(`no artifact with id ${rec.id}`);
    });
  }

  #one(sql, args) {
    return this.read(() => {
      const row = this.st(sql).raw().get(bindings(args));
      return row === undefined ? undefined : rowToRecord(row);
    });
  }

  getById(id) { return this.#one(`SELECT ${COLUMNS} FROM artifacts WHERE id = ?1`, [id]); }
  getByRef(ref) { return this.#one(`SELECT ${COLUMNS} FROM artifacts WHERE logical_ref = ?1`, [ref]); }
  getByName(bucket, name) { return this.read(() => this.#byName(bucket, name)); }

  list(q) {
    const limit = clampLimit(q.limit);
    const { sql, args } = listSql(q, limit);
    return this.read(() => {
      const records = this.st(sql).raw().all(bindings(args)).map(rowToRecord);
      let nextCursor;
      if (records.length > limit) {
        records.length = limit;
        const last = records[limit - 1];
        nextCursor = encodeCursor(last.createdAt, last.id);
      }
      return { records, nextCursor };
    });
  }

  summary(bucket) {
    return this.read(() => {
      const [count, total] = this.st('SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM artifacts WHERE bucket = ?1')
        .raw().get(bindings([bucket]));
      return { count: count > 0n ? count : 0n, totalBytes: total > 0n ? total : 0n };
    });
  }

  delete(id) {
    return this.tx(() => this.st('DELETE FROM artifacts WHERE id = ?1').run(bindings([id])).changes > 0);
  }

  touch(id, at) {
    const t = toI64(at, 'accessed_at');
    this.tx(() => { this.st(TOUCH).run(bindings([id, t])); });
  }

  /** When the artifact was last read and how often; `undefined` if there is no such artifact. */
  access(id) {
    return this.read(() => {
      const row = this.st('SELECT accessed_at, access_count FROM artifacts WHERE id = ?1').raw().get(bindings([id]));
      if (row === undefined) return undefined;
      const [at, n] = row;
      return { accessedAt: at === null ? undefined : (at > 0n ? at : 0n), accessCount: n > 0n ? n : 0n };
    });
  }

  #exists(sql, args) { return Number(this.st(sql).pluck().get(bindings(args))) !== 0; }

  pinObject(uri, holder, now, until) {
    const [n, u] = [toI64(now, 'now'), toI64(until, 'until')];
    return this.tx(() => {
      if (this.#exists(CLAIMS.LIVE_DELETE, [uri, n])) return false;
      this.st(CLAIMS.PIN).run(bindings([uri, holder, u]));
      return true;
    });
  }

  unpinObject(uri, holder) {
    this.tx(() => { this.st(CLAIMS.UNPIN).run(bindings([uri, holder])); });
  }

  claimDelete(uri, now, until) {
    const [n, u] = [toI64(now, 'now'), toI64(until, 'until')];
    return this.tx(() => {
      this.st(CLAIMS.PRUNE).run(bindings([uri, n]));
      if (this.#exists(CLAIMS.BUSY, [uri])) return false;
      this.st(CLAIMS.CLAIM).run(bindings([uri, u]));
      return true;
    });
  }

  finishDelete(uri) {
    this.tx(() => { this.st(CLAIMS.FINISH).run(bindings([uri])); });
  }

  staleClaims(before, limit) {
    const b = toI64(before, 'before');
    return this.read(() => this.st(CLAIMS.STALE).pluck().all(bindings([b, BigInt(clampLimit(limit))])));
  }
}

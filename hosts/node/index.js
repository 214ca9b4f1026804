// The artifact component in Node: put / get / head (+ streaming) over JS storage and metadata.
// In the repository run `npm run build` (or `npm test`) first: it transpiles the .wasm into gen/
// with jco. The npm package ships gen/ ready-made.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { instantiate } from './gen/artifact.js';
import { importObject } from './imports.js';
import { MemStorage, MemMetadata } from './backends/mem.js';
import { FsStorage, FsMetadata } from './backends/fs.js';
import { SqliteMetadata } from './backends/sqlite.js';

export { MemStorage, MemMetadata, FsStorage, FsMetadata, SqliteMetadata };

const gen = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gen');
const modules = new Map();
// Core modules are compiled once per process and shared by every store.
const getCoreModule = (name) => {
  if (!modules.has(name)) modules.set(name, WebAssembly.compile(fs.readFileSync(path.join(gen, name))));
  return modules.get(name);
};

/** Largest chunk handed to one writer.write / asked of one reader.read. */
export const CHUNK = 256 << 10;
/** Largest body `Store.put` hands to the component's `put` in one call (1 MiB). */
export const PUT_ONE_CALL = 1 << 20;

const big = (v) => (v === undefined || v === null ? undefined : BigInt(v));

/** `{start, end}` | `{start}` | `{suffix}` (or a WIT `{tag, val}`) → WIT byte-range. */
export function toRange(r) {
  if (r === undefined || r === null || r.tag) return r ?? undefined;
  if (r.suffix !== undefined) return { tag: 'suffix', val: BigInt(r.suffix) };
  if (r.end !== undefined) return { tag: 'bounded', val: { start: BigInt(r.start), end: BigInt(r.end) } };
  return { tag: 'from', val: BigInt(r.start) };
}

function getOptions(o = {}) {
  return { ...o, maxBytes: big(o.maxBytes), range: toRange(o.range) };
}
function putOptions(o = {}) {
  return { ...o, maxBytes: big(o.maxBytes) };
}
const bytesOf = (data) => (typeof data === 'string' ? Buffer.from(data, 'utf8') : data);

/** The sentence the Rust host's `Display` gives a WIT error payload. */
function errorMessage({ tag, val }) {
  if (tag === 'too-large') {
    return val.needed === 0n || val.needed === 0
      ? `body exceeds the limit of ${val.limit} bytes`
      : `body of ${val.needed} bytes exceeds the limit of ${val.limit} bytes`;
  }
  if (tag === 'range-not-satisfiable') return `range not satisfiable for a body of ${val} bytes`;
  return String(val);
}

/**
 * An error of the store: `.kind` is the WIT `error` case (`not-found`, `invalid-ref`,
 * `invalid-argument`, `too-large`, `range-not-satisfiable`, `integrity`, `decode`, `conflict`,
 * `forbidden`, `expired`, `storage`, `metadata`), `.message` the sentence the Rust CLI prints,
 * `.payload` the WIT value `{tag, val}` (as on jco's ComponentError).
 */
export class ArtifactError extends Error {
  constructor(payload, options) {
    super(errorMessage(payload), options);
    this.name = 'ArtifactError';
    this.kind = payload.tag;
    // An own property, so that a backend may throw it too (jco reads `.payload`).
    Object.defineProperty(this, 'payload', { value: payload, enumerable: false, writable: false });
  }
}

/** Rethrows a component error (anything carrying a WIT `payload`) as an ArtifactError. */
function rethrow(e) {
  if (e instanceof ArtifactError) throw e;
  if (e && typeof e === 'object' && e.payload && typeof e.payload.tag === 'string') throw new ArtifactError(e.payload, { cause: e });
  throw e;
}
const call = (f) => { try { return f(); } catch (e) { return rethrow(e); } };

/**
 * An artifact store: one component instance over the given backends. Methods throw
 * `ArtifactError`s (`.kind`, `.message`, `.payload`).
 */
export class Store {
  constructor(artifacts, backends) {
    this.artifacts = artifacts; // the raw export (every WIT function, camelCase; throws jco's ComponentError)
    this.backends = backends;
  }
  /**
   * Stores `data` (Uint8Array or string); returns `{record, created, resultRef}`. Bodies over
   * PUT_ONE_CALL go through the component's writer in CHUNK pieces (what its `put` does inside,
   * so the result is the same): the instance's memory stays small instead of holding the whole
   * body, and V8 moves the hashing loop to optimised code after the first chunks instead of
   * running a whole large first put in its baseline tier (4.2 s instead of 0.8 s for 64 MiB).
   */
  put(data, options) {
    const bytes = bytesOf(data);
    const o = putOptions(options);
    // A body that may exceed max-bytes takes one call: its too-large error then names the whole
    // size (a writer reports the bytes it had seen).
    const mayExceed = o.maxBytes !== undefined && (o.precompressed || BigInt(bytes.length) > o.maxBytes);
    if (bytes.length <= PUT_ONE_CALL || mayExceed) return call(() => this.artifacts.put(bytes, o));
    const w = call(() => this.artifacts.openWriter(o));
    try {
      for (let i = 0; i < bytes.length; i += CHUNK) call(() => w.write(bytes.subarray(i, i + CHUNK)));
      return call(() => w.finish());
    } catch (e) { w.abort(); throw e; } finally { w[Symbol.dispose](); }
  }
  /** Reads a body: `{data: {tag: 'json'|'text'|'bytes', val}, meta}`. */
  get(ref, options) { return call(() => this.artifacts.get(ref, getOptions(options))); }
  /** The record, without reading the body. */
  head(ref) { return call(() => this.artifacts.head(ref)); }
  /** The record of bucket/name. */
  find(bucket, name) { return call(() => this.artifacts.find(bucket, name)); }
  /**
   * One page of records: `{records, nextCursor}`. `query` as WIT `list-query` (camelCase);
   * `order` defaults to `oldest-first`, `limit` to 100; timestamps may be numbers.
   */
  list(query = {}) {
    const q = { order: 'oldest-first', limit: 100, ...query };
    for (const k of ['createdAfter', 'createdBefore', 'expiredBefore']) q[k] = big(q[k]);
    return call(() => this.artifacts.list(q));
  }
  /** Every record matching `query`, following the cursors. */
  *listAll(query = {}) {
    let cursor = query.cursor;
    do {
      const page = this.list({ ...query, cursor });
      yield* page.records;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }
  /** `{count, totalBytes}` of a bucket. */
  summary(bucket) { return call(() => this.artifacts.summary(bucket)); }
  /** Deletes an artifact (its blob too when nothing else uses it); returns its id. */
  delete(ref) { return call(() => this.artifacts.delete(ref)); }
  /** Collects expired artifacts, stale claims and staging: `{records, blobs, staging}`. */
  gc(options = {}) { return call(() => this.artifacts.gc({ ...options, stagingGraceMs: big(options.stagingGraceMs) })); }
  /** Streams chunks of the logical body (verified at the end for full reads). */
  *read(ref, options, chunk = CHUNK) {
    const reader = call(() => this.artifacts.openReader(ref, getOptions(options)));
    try {
      for (;;) {
        const c = call(() => reader.read(chunk));
        if (c.length === 0) return;
        yield c;
      }
    } finally { reader[Symbol.dispose](); }
  }
  /** Reads a whole body through the streaming reader into one Buffer. */
  getBytes(ref, options, chunk = CHUNK) { return Buffer.concat([...this.read(ref, options, chunk)]); }
  /** Stores a body given as an (async) iterable of chunks through the streaming writer. */
  async putStream(chunks, options, chunk = CHUNK) {
    const w = call(() => this.artifacts.openWriter(putOptions(options)));
    try {
      for await (let c of chunks) {
        c = bytesOf(c);
        for (let i = 0; i < c.length; i += chunk) call(() => w.write(c.subarray(i, i + chunk)));
      }
      return call(() => w.finish());
    } catch (e) { w.abort(); throw e; } finally { w[Symbol.dispose](); }
  }
  /** Stores a file through the streaming writer. */
  putFile(file, options) { return this.putStream(fs.createReadStream(file, { highWaterMark: CHUNK }), options); }
  /** Closes the backends that hold resources (the SQLite connection). The store is unusable after. */
  close() {
    for (const b of [this.backends.metadata, this.backends.storage]) if (typeof b?.close === 'function') b.close();
  }
}

/** Instantiates the component over `{storage, metadata, config}` backends. */
export async function openStore(backends) {
  const root = await instantiate(getCoreModule, importObject(backends));
  return new Store(root.artifacts, backends);
}

/** A store kept in memory; `driver` is the storage driver name (default `mem`). */
export const memStore = ({ driver = 'mem', config } = {}) =>
  openStore({ storage: new MemStorage({ driver }), metadata: new MemMetadata(), config });

/** A store under `root`: blobs as files (driver `fs`), records in `root/metadata.json` (one process). */
export const fsStore = (root, { config } = {}) =>
  openStore({ storage: new FsStorage(root), metadata: new FsMetadata(path.join(root, 'metadata.json')), config });

/** The home the Rust `artifact` CLI uses: `$ARTIFACT_HOME`, else `.artifacts` in the working directory. */
export const defaultHome = () => path.resolve(process.env.ARTIFACT_HOME || '.artifacts');

const OBJECTS = 'objects';
// Entries of a home that are not objects (host/src/home.rs).
const RESERVED = new Set([OBJECTS, 'metadata.db', 'metadata.db-wal', 'metadata.db-shm', 'metadata.db-journal', 'cache']);
const MIGRATING = '.objects.migrating';

/**
 * The `fs` storage root of a home (`home/objects`), moving the objects of a home written before
 * that layout (objects directly in the home) into it first: host/src/home.rs `objects_root`.
 */
export function objectsRoot(home) {
  const objects = path.join(home, OBJECTS);
  const io = (what, p, e) => new ArtifactError({ tag: 'storage', val: `${what} ${p}: ${e.message}` });
  try { if (fs.statSync(objects).isDirectory()) return objects; } catch {}
  let entries = [];
  try { entries = fs.readdirSync(home); } catch (e) { if (e.code !== 'ENOENT') throw io('read home', home, e); }
  const old = entries.filter((n) => !RESERVED.has(n) && n !== MIGRATING);
  const staging = path.join(home, MIGRATING);
  // Only a store moves: an older home always has its metadata.db (home.rs).
  const olderHome = fs.existsSync(path.join(home, 'metadata.db'));
  if ((old.length === 0 || !olderHome) && !fs.existsSync(staging)) return objects;
  // Each move is a rename within the home; a migration killed half-way resumes here.
  try { fs.mkdirSync(staging, { recursive: true }); } catch (e) { throw io('create', staging, e); }
  for (const n of old) {
    try { fs.renameSync(path.join(home, n), path.join(staging, n)); } catch (e) { throw io('move', path.join(home, n), e); }
  }
  try { fs.renameSync(staging, objects); } catch (e) { throw io('publish', objects, e); }
  return objects;
}

/**
 * The store of an `ARTIFACT_HOME`, shared with the Rust `artifact` CLI and the Python host:
 * objects in `home/objects` (FsStorage, driver `fs`), records and object claims in
 * `home/metadata.db` (SqliteMetadata). Several processes may use one home at once. The
 * `wasi:config` values default to the environment's, as for the other hosts (`envConfig`).
 */
export async function homeStore(home = defaultHome(), { config = envConfig() } = {}) {
  const abs = path.resolve(home);
  const storage = new FsStorage(objectsRoot(abs));
  const metadata = call(() => new SqliteMetadata(path.join(abs, 'metadata.db')));
  try {
    return await openStore({ storage, metadata, config });
  } catch (e) { metadata.close(); throw e; }
}

/**
 * `wasi:config` values from the environment, as the Rust CLI reads them: `ARTIFACT_CONFIG_<KEY>`
 * (`<key>`, lowercased), `ARTIFACT_SIGNING_KEYS` (`signing_keys`), `ARTIFACT_ACTIVE_KID` (`active_kid`).
 */
export function envConfig(env = process.env) {
  const out = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('ARTIFACT_CONFIG_')) out[k.slice(16).toLowerCase()] = v;
  if (env.ARTIFACT_SIGNING_KEYS !== undefined) out.signing_keys = env.ARTIFACT_SIGNING_KEYS;
  if (env.ARTIFACT_ACTIVE_KID !== undefined) out.active_kid = env.ARTIFACT_ACTIVE_KID;
  return out;
}

// ---- The JSON the Rust CLI prints (src/result_ref.rs `meta_json`, src/time.rs) ----

/** `YYYY-MM-DDTHH:MM:SS.mmmZ` of epoch milliseconds (src/time.rs `format_rfc3339`). */
export function formatRfc3339(ms) {
  ms = BigInt(ms);
  const secs = ms / 1000n;
  let z = secs / 86_400n + 719_468n; // days_to_civil, on non-negative days
  const s = secs % 86_400n;
  const era = z / 146_097n;
  const doe = z % 146_097n;
  const yoe = (doe - doe / 1460n + doe / 36_524n - doe / 146_096n) / 365n;
  const y = yoe + era * 400n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const d = doy - (153n * mp + 2n) / 5n + 1n;
  const m = mp < 10n ? mp + 3n : mp - 9n;
  const pad = (v, n) => String(v).padStart(n, '0');
  return `${pad(m <= 2n ? y + 1n : y, 4)}-${pad(m, 2)}-${pad(d, 2)}T${pad(s / 3600n, 2)}:${pad((s % 3600n) / 60n, 2)}:${pad(s % 60n, 2)}.${pad(ms % 1000n, 3)}Z`;
}

const KIND_NAME = { 'result-ref': 'result_ref', 'temp-ref': 'temp_ref', manifest: 'manifest' };
/** Text encoding of the logical body when it is text (src/result_ref.rs `encoding_of`). */
const encodingOf = (ct) => {
  const t = ct.toLowerCase();
  return t.startsWith('text/') || t.includes('json') || t.includes('xml') || t.includes('csv') ? 'utf-8' : null;
};

/**
 * A record as the Rust CLI prints it (`meta` of `artifact head`, of ResultRefs and of each line
 * of `artifact ls --json`): snake_case keys in the CLI's (sorted) order, sizes as numbers,
 * timestamps as RFC 3339 strings, absent values as null. `JSON.stringify(recordJson(r))` is the
 * Rust CLI's text byte for byte.
 */
export function recordJson(r) {
  const opt = (v) => (v === undefined || v === null ? null : v);
  return {
    bucket: r.bucket,
    bytes: Number(r.bytes),
    compression: r.compression,
    content_type: r.contentType,
    created_at: formatRfc3339(r.createdAt),
    created_by: opt(r.createdBy),
    encoding: encodingOf(r.contentType),
    execution_id: opt(r.executionId),
    expires_at: r.expiresAt === undefined || r.expiresAt === null ? null : formatRfc3339(r.expiresAt),
    id: r.id,
    kind: KIND_NAME[r.kind] ?? r.kind,
    name: r.name,
    ref: r.logicalRef,
    scope: r.scope,
    sha256: r.sha256,
    storage: { driver: r.location.driver, uri: r.location.uri },
    stored_bytes: Number(r.storedBytes),
    updated_at: formatRfc3339(r.updatedAt),
  };
}

/** What `artifact head REF` prints: `{"meta":{…},"status":"success"}`. */
export const headJson = (r) => JSON.stringify({ meta: recordJson(r), status: 'success' });

/** What `artifact put` prints: the ResultRef with `created` (the component's JSON, unchanged). */
export const putJson = ({ created, resultRef }) => `{"created":${created === true},${resultRef.slice(1)}`;

/**
 * What `artifact get REF` prints in json and text modes: `{"status":"success","data":…,"meta":{…}}`
 * with a JSON body inserted as stored, text as a JSON string, bytes as base64.
 */
export function getJson({ data, meta }) {
  const body = data.tag === 'json' ? data.val
    : data.tag === 'text' ? JSON.stringify(data.val)
      : JSON.stringify(Buffer.from(data.val.buffer, data.val.byteOffset, data.val.length).toString('base64'));
  return `{"status":"success","data":${body},"meta":${JSON.stringify(recordJson(meta))}}`;
}

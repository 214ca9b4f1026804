// SqliteMetadata (backends/sqlite.js) against the Rust sqlite backend's rules: schema and
// migration, get-or-create and its conflicts, u64 bounds, listings (checked against the mem
// backend's paging on the same records), touch, records shared between connections and
// processes, and the CLI-shaped JSON of homeStore records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { MemMetadata, SqliteMetadata, homeStore, recordJson, headJson, formatRfc3339, objectsRoot } from '../index.js';
import { SCHEMA_PATHS, prefixSuccessor } from '../backends/sqlite.js';
import { repo } from './util.js';

const scratch = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'artifact-node-sqlite-'));
  scratch.push(d);
  return d;
};
process.on('exit', () => scratch.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const open = () => new SqliteMetadata(path.join(tmp(), 'metadata.db'));
const caught = (f) => { try { f(); } catch (e) { return e; } assert.fail('expected an error'); };
const tagOf = (f) => caught(f).tag;

const I64_MAX = 2n ** 63n - 1n;
// Crockford base32 ids in creation order within a millisecond.
const idOf = (n) => `01ARZ3NDEK${String(n).padStart(16, '0')}`;
const record = (n, over = {}) => ({
  id: idOf(n), bucket: 'b', name: `n${n}`, logicalRef: `noetl://artifact/b/n${n}/${idOf(n)}`, kind: 'result-ref',
  contentType: 'application/json', compression: 'none', bytes: 2n, storedBytes: 2n, sha256: 'a'.repeat(64),
  location: { driver: 'fs', uri: `fs://blobs/${n}` }, scope: 'permanent', storeTier: 'fs',
  executionId: undefined, createdBy: undefined, createdAt: 1000n, updatedAt: 1000n, expiresAt: undefined,
  preview: undefined, extracted: undefined, ...over,
});

test('sqlite: the schema is host/src/metadata/schema.sql; WAL, synchronous NORMAL, 5 s busy timeout, user_version 1', () => {
  const repoSchema = fs.readFileSync(path.join(repo, 'host/src/metadata/schema.sql'), 'utf8');
  assert.equal(fs.readFileSync(SCHEMA_PATHS[0], 'utf8'), repoSchema, 'gen/schema.sql is the repository schema (npm run build)');
  const file = path.join(tmp(), 'nested', 'meta.db');
  new SqliteMetadata(file).close();
  const m = new SqliteMetadata(file); // migrating again is a no-op
  assert.equal(m.db.pragma('user_version', { simple: true }), 1n);
  assert.equal(m.db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(m.db.pragma('synchronous', { simple: true }), 1n);
  assert.equal(m.db.pragma('busy_timeout', { simple: true }), 5000n);
  const tables = m.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
  assert.deepEqual(tables, ['artifacts', 'object_claims']);
  m.close();
});

test('sqlite: a database of a newer schema version is refused with a metadata error, untouched', () => {
  const file = path.join(tmp(), 'metadata.db');
  const db = new Database(file);
  db.pragma('user_version = 2');
  db.close();
  const e = caught(() => new SqliteMetadata(file));
  assert.equal(e.tag, 'metadata');
  assert.match(e.val, /schema version 2 is newer than this build supports \(1\)/);
  const again = new Database(file);
  assert.equal(again.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get(), 0);
  again.close();
  assert.equal(tagOf(() => new SqliteMetadata('')), 'invalid-argument');
});

test('sqlite: records round trip with every optional field; kinds are stored as the Rust host spells them', () => {
  const m = open();
  const full = record(1, {
    kind: 'temp-ref', compression: 'gzip', scope: 'step', executionId: 'E1', createdBy: 'me', expiresAt: I64_MAX,
    preview: '{"p":1}', extracted: '[]', bytes: I64_MAX, storedBytes: 0n, createdAt: 0n, updatedAt: I64_MAX,
  });
  const bare = record(2, { kind: 'manifest' });
  for (const r of [full, bare]) assert.deepEqual(m.insertIfAbsent(r), { record: r, created: true });
  assert.deepEqual(m.getById(full.id), full);
  assert.deepEqual(m.getByRef(bare.logicalRef), bare);
  assert.deepEqual(m.getByName('b', 'n1'), full);
  assert.equal(m.getById('nope'), undefined);
  assert.equal(m.getByName('b', 'nope'), undefined);
  assert.equal(m.getByRef('noetl://nope'), undefined);
  const kinds = m.db.prepare('SELECT kind FROM artifacts ORDER BY id').pluck().all();
  assert.deepEqual(kinds, ['temp_ref', 'manifest']);
  // What the Rust host writes reads back as the WIT case.
  m.insertIfAbsent(record(3));
  assert.equal(m.db.prepare('SELECT kind FROM artifacts WHERE id = ?').pluck().get(idOf(3)), 'result_ref');
  m.db.prepare("UPDATE artifacts SET kind = 'result-ref' WHERE id = ?").run(idOf(3));
  assert.equal(m.getById(idOf(3)).kind, 'result-ref');
  m.db.prepare("UPDATE artifacts SET scope = 'nonsense' WHERE id = ?").run(idOf(3));
  assert.equal(tagOf(() => m.getById(idOf(3))), 'metadata');
});

test('sqlite: get-or-create returns the winner; an id or ref clash without one is a conflict; update', () => {
  const m = open();
  const a = record(1);
  assert.equal(m.insertIfAbsent(a).created, true);
  // Same (bucket, name), everything else new: the existing record wins.
  assert.deepEqual(m.insertIfAbsent(record(2, { name: 'n1' })), { record: a, created: false });
  // Same (bucket, name) and same id: still the winner, not a conflict.
  assert.deepEqual(m.insertIfAbsent({ ...a, sha256: 'b'.repeat(64) }), { record: a, created: false });
  // Another (bucket, name) whose id or ref is taken.
  assert.equal(tagOf(() => m.insertIfAbsent(record(3, { id: a.id }))), 'conflict');
  assert.equal(tagOf(() => m.insertIfAbsent(record(4, { logicalRef: a.logicalRef }))), 'conflict');
  assert.equal(m.summary('b').count, 1n);
  // update: not-found, conflict on another record's (bucket, name), else replaced.
  assert.equal(tagOf(() => m.update(record(9))), 'not-found');
  m.insertIfAbsent(record(5));
  assert.equal(tagOf(() => m.update({ ...record(5), name: 'n1' })), 'conflict');
  const moved = { ...record(5), location: { driver: 'fs', uri: 'fs://elsewhere' }, updatedAt: 2000n };
  m.update(moved);
  assert.deepEqual(m.getById(moved.id), moved);
});

test('sqlite: u64 values past i64 are invalid-argument and write nothing', () => {
  const m = open();
  for (const over of [{ bytes: I64_MAX + 1n }, { storedBytes: 2n ** 64n - 1n }, { createdAt: I64_MAX + 1n }, { expiresAt: 2n ** 63n }]) {
    const e = caught(() => m.insertIfAbsent(record(1, over)));
    assert.equal(e.tag, 'invalid-argument');
    assert.match(e.val, /exceeds the storable range/);
  }
  assert.equal(m.summary('b').count, 0n);
  m.insertIfAbsent(record(1));
  assert.equal(tagOf(() => m.update(record(1, { updatedAt: 2n ** 64n - 1n }))), 'invalid-argument');
  assert.equal(tagOf(() => m.touch(idOf(1), I64_MAX + 1n)), 'invalid-argument');
  assert.equal(tagOf(() => m.pinObject('fs://x', 'h', 0n, I64_MAX + 1n)), 'invalid-argument');
  assert.equal(tagOf(() => m.claimDelete('fs://x', I64_MAX + 1n, 0n)), 'invalid-argument');
  assert.equal(tagOf(() => m.staleClaims(2n ** 64n - 1n, 10)), 'invalid-argument');
  assert.deepEqual(m.staleClaims(I64_MAX, 10), []);
});

test('sqlite: summary, delete, touch (accessed_at = max, access_count + 1)', () => {
  const m = open();
  m.insertIfAbsent(record(1, { bytes: 10n }));
  m.insertIfAbsent(record(2, { bytes: 32n }));
  m.insertIfAbsent(record(3, { bucket: 'other', bytes: 5n }));
  assert.deepEqual(m.summary('b'), { count: 2n, totalBytes: 42n });
  assert.deepEqual(m.summary('none'), { count: 0n, totalBytes: 0n });
  assert.deepEqual(m.access(idOf(1)), { accessedAt: undefined, accessCount: 0n });
  m.touch(idOf(1), 500n);
  m.touch(idOf(1), 300n); // earlier: accessed_at stays, the count goes up
  assert.deepEqual(m.access(idOf(1)), { accessedAt: 500n, accessCount: 2n });
  m.touch('missing', 1n); // nothing to touch: no error
  assert.equal(m.access('missing'), undefined);
  assert.equal(m.delete(idOf(1)), true);
  assert.equal(m.delete(idOf(1)), false);
  assert.deepEqual(m.summary('b'), { count: 1n, totalBytes: 32n });
});

test('sqlite: prefix successor bounds every extension, byte-wise', () => {
  assert.equal(prefixSuccessor('t042/'), 't0420');
  assert.equal(prefixSuccessor('a\uD7FF'), 'a\uE000');
  assert.equal(prefixSuccessor('a\u{10FFFF}'), 'b');
  assert.equal(prefixSuccessor('\u{10FFFF}'), undefined);
  for (const p of ['t042/', 'é', 'a\uD7FF', 'z\u{10FFFF}', '\uFFFF']) {
    const hi = Buffer.from(prefixSuccessor(p));
    for (const ext of ['', '\0', 'x', '\u{10FFFF}\u{10FFFF}']) assert.ok(Buffer.compare(Buffer.from(p + ext), hi) < 0, `${p}${ext}`);
  }
});

test('sqlite: listings page exactly as the mem backend (filters, prefixes, both orders, cursors, limits)', () => {
  const m = open();
  const mem = new MemMetadata();
  const names = ['a', 'a/b', 'a/c', 'a%', 'a_', 'ab', 'A', 'é', 'é/1', '\u{1F600}', '\u{1F600}x', '\uFFFD', '\u{10FFFF}', '\u{10FFFF}\u{10FFFF}', 'b'];
  let n = 0;
  for (const bucket of ['b1', 'b2']) {
    for (const name of names) {
      for (const k of [0, 1]) {
        n += 1;
        const r = record(n, {
          bucket, name: `${name}${k ? '/k' : ''}`, logicalRef: `noetl://artifact/${bucket}/${n}`,
          createdAt: BigInt(1000 + (n % 7)), // ties on created_at, ordered by id
          createdBy: n % 3 ? 'x' : undefined, expiresAt: n % 4 ? BigInt(2000 + n) : undefined,
          location: { driver: 'fs', uri: `fs://u/${n % 5}` },
        });
        m.insertIfAbsent(r);
        mem.insertIfAbsent(r);
      }
    }
  }
  const queries = [
    {}, { bucket: 'b1' }, { bucket: 'b2', name: 'a/b' }, { namePrefix: '' },
    ...['a', 'a/', 'a%', 'a_', 'é', '\u{1F600}', '\u{10FFFF}', '\uFFFD', 'zz'].flatMap((p) => [{ namePrefix: p }, { bucket: 'b1', namePrefix: p }]),
    { createdBy: 'x' }, { createdAfter: 1003n }, { createdBefore: 1003n }, { createdAfter: 1002n, createdBefore: 1005n },
    { createdAfter: 2n ** 64n - 1n }, { createdBefore: 2n ** 64n - 1n }, { uri: 'fs://u/3' },
    { expiredBefore: 2010n }, { expiredBefore: 2n ** 63n }, { bucket: 'b2', createdBy: 'x', namePrefix: 'a' },
  ];
  const ids = (p) => p.records.map((r) => r.id);
  for (const base of queries) {
    for (const order of ['oldest-first', 'newest-first']) {
      for (const limit of [0, 1, 7, 1000, 5000]) {
        let cursor;
        let pages = 0;
        do {
          const q = { ...base, order, limit, cursor };
          const got = m.list(q);
          const want = mem.list(q);
          const what = JSON.stringify(q, (_k, v) => (typeof v === 'bigint' ? `${v}` : v));
          assert.deepEqual(ids(got), ids(want), what);
          assert.equal(got.nextCursor, want.nextCursor, what);
          assert.deepEqual(got.records, want.records, what);
          cursor = got.nextCursor;
          pages += 1;
        } while (cursor !== undefined && pages < 100);
      }
    }
  }
  // Cursors past i64: nothing is after it oldest-first, everything newest-first.
  const far = `${2n ** 64n - 1n}.${idOf(1)}`;
  assert.equal(m.list({ order: 'oldest-first', limit: 1000, cursor: far }).records.length, 0);
  assert.equal(m.list({ order: 'newest-first', limit: 1000, cursor: far }).records.length, n);
  assert.equal(tagOf(() => m.list({ order: 'oldest-first', limit: 10, cursor: 'garbage' })), 'invalid-argument');
  // A prefix listing in a bucket is planned on the (bucket, name, created_at, id) index.
  const plan = m.db.prepare(`EXPLAIN QUERY PLAN SELECT rowid FROM artifacts INDEXED BY artifacts_bucket_name_created
    WHERE bucket = 'b1' AND name < 'b' AND name >= 'a' ORDER BY created_at, id LIMIT 10`).all().map((r) => r.detail);
  assert.ok(plan.some((d) => d.includes('artifacts_bucket_name_created')), plan.join('; '));
});

test('sqlite: two connections to one file see each other\'s records and claims', () => {
  const file = path.join(tmp(), 'metadata.db');
  const a = new SqliteMetadata(file);
  const b = new SqliteMetadata(file);
  a.insertIfAbsent(record(1));
  assert.deepEqual(b.insertIfAbsent(record(2, { name: 'n1' })).record, record(1));
  assert.equal(b.pinObject('fs://p', 'w1', 0n, 12345678901234567n), true);
  assert.equal(a.claimDelete('fs://p', 12345678901234566n, 1n), false);
  assert.equal(a.claimDelete('fs://d', 0n, 777n), true);
  assert.equal(b.pinObject('fs://d', 'w2', 776n, 900n), false);
  assert.equal(b.claimDelete(record(1).location.uri, 0n, 1n), false);
  assert.deepEqual(b.staleClaims(12345678901234567n, 10), ['fs://d', 'fs://p']);
  a.close();
  b.close();
});

test('sqlite: threads opening one new file at once all open it (none answers "database is locked")', async () => {
  const ROUNDS = 40;
  const THREADS = 6;
  const dir = tmp();
  const sqliteJs = pathToFileURL(path.join(repo, 'hosts/node/backends/sqlite.js')).href;
  // Each round, every thread waits on a shared barrier, then opens <dir>/<round>.db.
  const code = `
    import { workerData, parentPort } from 'node:worker_threads';
    import { SqliteMetadata } from ${JSON.stringify(sqliteJs)};
    const gate = new Int32Array(workerData.gate);
    const errors = [];
    for (let round = 0; round < ${ROUNDS}; round++) {
      Atomics.add(gate, 1, 1);
      while (Atomics.load(gate, 0) <= round) Atomics.wait(gate, 0, round, 1000);
      try { new SqliteMetadata(workerData.dir + '/' + round + '.db').close(); }
      catch (e) { errors.push(round + ': ' + JSON.stringify(e)); }
    }
    parentPort.postMessage(errors);
  `;
  const gate = new Int32Array(new SharedArrayBuffer(8)); // [round released, threads arrived]
  const workers = Array.from({ length: THREADS }, () => new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: { gate: gate.buffer, dir } }));
  const results = workers.map((w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); }));
  for (let round = 0; round < ROUNDS; round++) {
    while (Atomics.load(gate, 1) < THREADS * (round + 1)) await new Promise((r) => setTimeout(r, 1));
    Atomics.store(gate, 0, round + 1);
    Atomics.notify(gate, 0);
  }
  assert.deepEqual((await Promise.all(results)).flat(), []);
});

/** Starts `code` (an ES module) in a child Node process: `{proc, lines, done}` (`done`: its stdout). */
function child(code, env) {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let exited;
  const waiters = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  proc.stdout.on('data', (d) => { out += d; wake(); });
  const done = new Promise((resolve, reject) => {
    proc.on('error', (e) => { exited = e; wake(); reject(e); });
    proc.on('close', (c) => {
      exited = c === 0 ? undefined : new Error(`child exited ${c}: ${out}`);
      if (c === 0) resolve(out); else reject(exited);
      wake();
    });
  });
  done.catch(() => {}); // also reported through `lines` or awaited
  /** Resolves once stdout holds `n` lines; rejects if the child ends first. */
  const lines = (n) => new Promise((resolve, reject) => {
    const check = () => {
      if (out.split('\n').length > n) resolve(out);
      else if (proc.exitCode !== null || proc.signalCode !== null || exited) reject(exited ?? new Error(`child ended before line ${n}: ${out}`));
      else waiters.push(check);
    };
    check();
  });
  return { proc, lines, done };
}

test('sqlite: two processes racing get-or-create on the same names in one home make one artifact each', async () => {
  const home = tmp();
  const N = 60;
  const index = pathToFileURL(path.join(repo, 'hosts/node/index.js')).href;
  const code = `
    import { homeStore } from ${JSON.stringify(index)};
    const s = await homeStore(process.env.RACE_HOME);
    process.stdout.write('ready\\n');
    await new Promise((r) => process.stdin.once('data', r));
    const out = [];
    for (let i = 0; i < ${N}; i++) {
      const { created, record } = s.put(JSON.stringify({ pid: process.pid, i }), { bucket: 'race', name: 'n' + i });
      out.push({ i, created, id: record.id });
    }
    process.stdout.write(JSON.stringify(out) + '\\n');
    s.close();
    process.stdin.destroy();
  `;
  const kids = [0, 1].map(() => child(code, { RACE_HOME: home }));
  await Promise.all(kids.map((k) => k.lines(1))); // both instantiated: start together
  for (const k of kids) k.proc.stdin.write('go\n');
  const runs = kids.map((k) => k.done);
  const results = (await Promise.all(runs)).map((o) => JSON.parse(o.split('\n')[1]));
  let wins = [0, 0];
  for (let i = 0; i < N; i++) {
    const [a, b] = results.map((r) => r[i]);
    assert.equal(Number(a.created) + Number(b.created), 1, `name n${i}: exactly one process created it`);
    assert.equal(a.id, b.id, `name n${i}: both processes got the winner`);
    wins = wins.map((w, k) => w + Number(results[k][i].created));
  }
  const s = await homeStore(home);
  assert.equal(s.summary('race').count, BigInt(N));
  assert.deepEqual(s.backends.metadata.staleClaims(I64_MAX, 1000), [], 'no pin left behind');
  for (let i = 0; i < N; i++) assert.equal(JSON.parse(s.get(`race/n${i}`).data.val).i, i);
  s.close();
  console.log(`race: wins per process ${wins.join(' / ')}`);
});

test('homeStore: JSON of records is the component\'s ResultRef meta, byte for byte', async () => {
  const s = await homeStore(tmp());
  const cases = [
    ['{"a":1}', { bucket: 'j', name: 'plain' }],
    ['text', { bucket: 'j', name: 'ttl', contentType: 'text/csv', ttl: '2h', createdBy: 'node', executionId: 'E1', step: 's', scope: 'execution', compression: 'gzip' }],
    [Buffer.from([0, 1, 2]), { contentType: 'application/octet-stream', kind: 'temp-ref' }],
  ];
  for (const [body, opts] of cases) {
    const put = s.put(body, opts);
    const meta = put.resultRef.match(/"meta":(\{[^{}]*\{[^{}]*\}[^{}]*\})/)[1];
    assert.equal(JSON.stringify(recordJson(put.record)), meta);
    assert.equal(headJson(s.head(put.record.id)), `{"meta":${meta},"status":"success"}`);
  }
  s.close();
  for (const ms of [0n, 1n, 999n, 951782400000n, 1767225600123n, 253402300799999n, 8640000000000000n]) {
    assert.equal(formatRfc3339(ms), new Date(Number(ms)).toISOString().replace(/^\+0*(\d{4,})/, '$1'));
  }
  for (let i = 0; i < 2000; i++) {
    const ms = BigInt(Math.floor(Math.random() * 253402300799999));
    assert.equal(formatRfc3339(ms), new Date(Number(ms)).toISOString());
  }
});

test('homeStore: a home of the layout before objects/ is moved into it (host/src/home.rs)', async () => {
  const home = tmp();
  fs.mkdirSync(path.join(home, 'blobs/sha256/aa'), { recursive: true });
  fs.writeFileSync(path.join(home, 'blobs/sha256/aa/x'), 'x');
  fs.mkdirSync(path.join(home, 'cache'));
  fs.writeFileSync(path.join(home, 'metadata.db'), '');
  const root = objectsRoot(home);
  assert.equal(root, path.join(home, 'objects'));
  assert.equal(fs.readFileSync(path.join(root, 'blobs/sha256/aa/x'), 'utf8'), 'x');
  assert.deepEqual(fs.readdirSync(home).sort(), ['cache', 'metadata.db', 'objects']);
  assert.equal(objectsRoot(home), root); // idempotent
  // A directory that is not an older home (no metadata.db) keeps its files.
  const plain = tmp();
  fs.writeFileSync(path.join(plain, 'README'), 'r');
  fs.mkdirSync(path.join(plain, 'src'));
  assert.equal(objectsRoot(plain), path.join(plain, 'objects'));
  assert.deepEqual(fs.readdirSync(plain).sort(), ['README', 'src']);
  const s = await homeStore(home);
  assert.equal(s.backends.storage.root, fs.realpathSync(root));
  s.close();
});

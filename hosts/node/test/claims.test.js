// Object claims (wit/metadata.wit, "the deletion contract") and storage.collect-staging, directly
// on the backends: MemMetadata / FsMetadata / SqliteMetadata, MemStorage / FsStorage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemMetadata, MemStorage, FsMetadata, FsStorage, SqliteMetadata, fsStore, homeStore } from '../index.js';

const scratch = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'artifact-node-claims-'));
  scratch.push(d);
  return d;
};
process.on('exit', () => scratch.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const U = 'fs://blobs/sha256/aa/aa01';
const record = (id, uri) => ({
  id, bucket: 'b', name: id, logicalRef: `noetl://artifacts/b/${id}`, kind: 'result-ref',
  contentType: 'application/json', compression: 'none', bytes: 2n, storedBytes: 2n, sha256: 'a'.repeat(64),
  location: { driver: 'fs', uri }, scope: 'permanent', storeTier: 'fs', createdAt: 1n, updatedAt: 1n,
});
const ID1 = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
const MAX = 2n ** 63n - 1n; // the largest timestamp every backend stores (SQLite: i64)

const backends = [
  ['mem', () => new MemMetadata()],
  ['fs', () => new FsMetadata(path.join(tmp(), 'metadata.json'))],
  ['sqlite', () => new SqliteMetadata(path.join(tmp(), 'metadata.db'))],
];

for (const [kind, open] of backends) {
  test(`${kind} metadata: a live pin blocks claim-delete; unpin is idempotent`, () => {
    const m = open();
    assert.equal(m.pinObject(U, 'w1', 100n, 200n), true);
    assert.equal(m.claimDelete(U, 150n, 300n), false); // pin live (200 > 150)
    assert.equal(m.claimDelete(U, 199n, 300n), false);
    m.unpinObject(U, 'w1');
    m.unpinObject(U, 'w1'); // idempotent
    m.unpinObject(U, 'nobody');
    m.unpinObject('fs://never/pinned', 'w1');
    assert.equal(m.claimDelete(U, 150n, 300n), true);
  });

  test(`${kind} metadata: pinning again by the same holder replaces its until`, () => {
    const m = open();
    assert.equal(m.pinObject(U, 'w1', 100n, 200n), true);
    assert.equal(m.pinObject(U, 'w1', 100n, 500n), true); // extended
    assert.equal(m.claimDelete(U, 300n, 400n), false); // 500 > 300: still live
    assert.equal(m.pinObject(U, 'w1', 100n, 150n), true); // replaced (shortened), not max'd
    assert.equal(m.claimDelete(U, 300n, 400n), true); // 150 <= 300: dropped
  });

  test(`${kind} metadata: a record whose location.uri is the URI blocks claim-delete`, () => {
    const m = open();
    m.insertIfAbsent(record(ID1, U));
    assert.equal(m.claimDelete(U, 100n, 200n), false);
    assert.equal(m.claimDelete(`${U}x`, 100n, 200n), true); // only an exact URI counts
    assert.deepEqual(m.staleClaims(1_000n, 10), [`${U}x`]); // the refused claim recorded nothing
    m.delete(ID1);
    assert.equal(m.claimDelete(U, 100n, 200n), true);
  });

  test(`${kind} metadata: a live delete claim refuses pins and other claims; an expired one does not`, () => {
    const m = open();
    assert.equal(m.claimDelete(U, 100n, 200n), true);
    assert.equal(m.pinObject(U, 'w1', 150n, 400n), false);
    assert.equal(m.pinObject(U, 'w1', 199n, 400n), false);
    assert.equal(m.claimDelete(U, 150n, 400n), false); // another live delete claim
    // The refused pin pinned nothing: once the delete is finished the URI is free.
    m.finishDelete(U);
    assert.deepEqual(m.staleClaims(10_000n, 10), []);
    assert.equal(m.claimDelete(U, 100n, 200n), true);
    // until <= now: the claim is dead; pinning works (and leaves the dead claim for stale-claims).
    assert.equal(m.pinObject(U, 'w1', 200n, 400n), true);
    assert.deepEqual(m.staleClaims(200n, 10), [U]);
    assert.equal(m.claimDelete(U, 300n, 500n), false); // pin live; the dead delete claim is dropped
    assert.deepEqual(m.staleClaims(300n, 10), []);
    m.unpinObject(U, 'w1');
    assert.equal(m.claimDelete(U, 300n, 500n), true);
  });

  test(`${kind} metadata: claim-delete drops expired pins and delete claims (until <= now)`, () => {
    const m = open();
    assert.equal(m.pinObject(U, 'killed-writer', 100n, 200n), true);
    assert.equal(m.pinObject(U, 'other-killed', 100n, 250n), true);
    assert.equal(m.claimDelete(U, 200n, 300n), false); // 250 still live
    assert.deepEqual(m.staleClaims(249n, 10), []); // the pin at 200 was dropped by that call
    assert.equal(m.claimDelete(U, 250n, 300n), true); // until == now counts as expired
    // A killed delete: its claim expires and another deleter takes over.
    assert.equal(m.claimDelete(U, 299n, 400n), false);
    assert.equal(m.claimDelete(U, 300n, 400n), true);
  });

  test(`${kind} metadata: finish-delete ends the claim, is idempotent, and leaves live pins`, () => {
    const m = open();
    m.finishDelete(U); // nothing to finish
    assert.equal(m.claimDelete(U, 100n, 200n), true);
    // After the claim expired a writer may pin (a dead pin, until <= the claim's, and a live one).
    assert.equal(m.pinObject(U, 'dead', 250n, 150n), true);
    assert.equal(m.pinObject(U, 'live', 250n, 900n), true);
    m.finishDelete(U);
    m.finishDelete(U);
    // The delete claim is gone. The JS backends also drop the pin that had expired by the claim's
    // until; SQLite runs sql.rs's FINISH (the Rust backends' rule), which leaves that dead pin for
    // the next claim-delete to prune (meanwhile stale-claims reports it, as for any dead pin).
    assert.deepEqual(m.staleClaims(899n, 10), kind === 'sqlite' ? [U] : []);
    assert.equal(m.claimDelete(U, 300n, 400n), false); // the live pin still blocks
    assert.deepEqual(m.staleClaims(900n, 10), [U]);
  });

  test(`${kind} metadata: stale-claims lists distinct URIs with until <= before, ascending, clamped`, () => {
    const m = open();
    const uris = Array.from({ length: 1005 }, (_, i) => `fs://blobs/k/${String(i).padStart(4, '0')}`);
    for (const u of uris.slice(0, 5).reverse()) assert.equal(m.pinObject(u, 'h', 0n, 100n), true);
    // The rest in bulk (FsMetadata would rewrite its file on every pin).
    if (m.pins) {
      for (const u of uris.slice(5).reverse()) m.pins.set(u, new Map([['h', 100n]]));
      m.changed();
    } else {
      for (const u of uris.slice(5).reverse()) assert.equal(m.pinObject(u, 'h', 0n, 100n), true);
    }
    assert.equal(m.pinObject(uris[0], 'h2', 0n, 100n), true); // two claims on one URI: listed once
    assert.equal(m.claimDelete('fs://a/deleting', 0n, 50n), true);
    assert.equal(m.claimDelete('fs://z/deleting', 0n, 5000n), true); // not stale before 5000
    assert.equal(m.pinObject('fs://a/live', 'h', 0n, 101n), true);
    assert.deepEqual(m.staleClaims(49n, 10), []);
    assert.deepEqual(m.staleClaims(50n, 10), ['fs://a/deleting']);
    assert.deepEqual(m.staleClaims(100n, 3), ['fs://a/deleting', uris[0], uris[1]]);
    assert.deepEqual(m.staleClaims(100n, 0), ['fs://a/deleting']); // limit clamped up to 1
    const all = m.staleClaims(100n, 5000); // clamped down to 1000
    assert.equal(all.length, 1000);
    assert.deepEqual(all, ['fs://a/deleting', ...uris.slice(0, 999)]);
    assert.deepEqual(m.staleClaims(101n, 2), ['fs://a/deleting', 'fs://a/live']);
    // UTF-8 byte order, as the Rust backends sort.
    const n = open();
    for (const u of ['fs://\u{1F600}', 'fs://\uFFFD', 'fs://b']) n.pinObject(u, 'h', 0n, 1n);
    assert.deepEqual(n.staleClaims(1n, 10), ['fs://b', 'fs://\uFFFD', 'fs://\u{1F600}']);
  });
}

test('fs metadata: claims persist in metadata.json next to the records; a legacy array file loads', () => {
  const file = path.join(tmp(), 'metadata.json');
  const a = new FsMetadata(file);
  a.insertIfAbsent(record(ID1, U));
  assert.equal(a.pinObject('fs://p', 'w1', 0n, 12345678901234567n), true);
  assert.equal(a.claimDelete('fs://d', 0n, 777n), true);
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.deepEqual(doc.pins, [{ uri: 'fs://p', holder: 'w1', until: '12345678901234567' }]);
  assert.deepEqual(doc.deletes, [{ uri: 'fs://d', until: '777' }]);
  const b = new FsMetadata(file);
  assert.deepEqual(b.getById(ID1), a.getById(ID1));
  assert.equal(b.pinObject('fs://d', 'w2', 776n, 900n), false); // the delete claim survived
  assert.equal(b.claimDelete('fs://p', 12345678901234566n, 1n), false); // the pin survived
  assert.equal(b.claimDelete(U, 0n, 1n), false); // the record survived
  assert.deepEqual(b.staleClaims(12345678901234567n, 10), ['fs://d', 'fs://p']);
  b.finishDelete('fs://d');
  b.unpinObject('fs://p', 'w1');
  assert.deepEqual(new FsMetadata(file).staleClaims(2n ** 64n - 1n, 10), []);
  // The format before claims: a bare array of records.
  const legacy = path.join(tmp(), 'metadata.json');
  fs.writeFileSync(legacy, JSON.stringify([JSON.parse(fs.readFileSync(file, 'utf8')).records[0]]));
  const c = new FsMetadata(legacy);
  assert.deepEqual(c.getById(ID1), a.getById(ID1));
  assert.equal(c.claimDelete(U, 0n, 1n), false);
});

test('mem storage: collect-staging has nothing to collect', () => {
  const s = new MemStorage();
  const w = s.createWriter('mem');
  w.write(new Uint8Array([1]));
  assert.equal(s.collectStaging(BigInt(Date.now()) + 3_600_000n), 0);
  assert.equal(w.commit('mem://x', 'if-absent'), true);
});

test('fs storage: collect-staging removes only staged files older than `before`', () => {
  const root = tmp();
  const s = new FsStorage(root);
  const staging = path.join(root, '.staging');
  const old = 1_000_000_000.5; // seconds: 1000000000500 ms
  const stray = (name, mtime) => {
    const p = path.join(staging, name);
    fs.writeFileSync(p, 'partial');
    if (mtime !== undefined) fs.utimesSync(p, mtime, mtime);
    return p;
  };
  // A committed object, as old as the strays: never touched.
  const c = s.createWriter('fs');
  c.write(Buffer.from('{}'));
  assert.equal(c.commit('fs://blobs/old', 'if-absent'), true);
  fs.utimesSync(path.join(root, 'blobs/old'), old, old);
  // A live writer of this process whose staged file looks old: its writer is not gone.
  const live = s.createWriter('fs');
  live.write(Buffer.from('still writing'));
  for (const f of fs.readdirSync(staging)) fs.utimesSync(path.join(staging, f), old - 10, old - 10);
  const killedA = stray('999999-killed-a', old);
  const killedB = stray('999999-killed-b', old - 60);
  const fresh = stray('999999-fresh'); // begun now
  fs.mkdirSync(path.join(staging, 'a-dir'));
  fs.utimesSync(path.join(staging, 'a-dir'), old - 60, old - 60);

  assert.equal(s.collectStaging(1_000_000_000_500n - 60_000n), 0); // nothing begun before that
  assert.equal(s.collectStaging(1_000_000_000_500n), 1); // killedB; killedA's mtime == before is kept
  assert.ok(!fs.existsSync(killedB));
  assert.ok(fs.existsSync(killedA));
  assert.equal(s.collectStaging(1_000_000_000_501n), 1);
  assert.ok(!fs.existsSync(killedA));
  assert.equal(s.collectStaging(BigInt(Date.now()) - 3_600_000n), 0); // a grace period keeps `fresh`
  assert.ok(fs.existsSync(fresh));
  assert.ok(fs.existsSync(path.join(staging, 'a-dir')));
  assert.equal(fs.readFileSync(path.join(root, 'blobs/old'), 'utf8'), '{}');
  // The live writer still commits.
  assert.equal(live.commit('fs://blobs/live', 'if-absent'), true);
  assert.equal(fs.readFileSync(path.join(root, 'blobs/live'), 'utf8'), 'still writing');
  assert.equal(s.collectStaging(BigInt(Date.now()) + 60_000n), 1); // now `fresh` is old enough
  assert.deepEqual(fs.readdirSync(staging), ['a-dir']);
  assert.deepEqual(s.listObjects('fs://', undefined, 10).uris, ['fs://blobs/live', 'fs://blobs/old']);
  // No staging directory at all: nothing to do.
  fs.rmSync(staging, { recursive: true });
  assert.equal(s.collectStaging(BigInt(Date.now()) + 60_000n), 0);
});

for (const [kind, open] of [['fs', (d) => fsStore(d)], ['home (sqlite)', (d) => homeStore(d)]]) test(`${kind}: through the component, puts leave no claims and gc collects stale claims and staging`, async () => {
  const s = await open(tmp());
  const root = s.backends.storage.root;
  const md = s.backends.metadata;
  const now = () => BigInt(Date.now());
  const { record: r } = s.put('{"a":1}', { bucket: 'c', name: 'x' });
  assert.deepEqual(md.staleClaims(MAX, 1000), []); // the put unpinned its URI
  assert.equal(md.claimDelete(r.location.uri, now(), now() + 1000n), false); // its record uses it
  // What killed processes leave: an object whose put died before its record (expired pin), a
  // delete that died before finishing (expired claim), a staged write.
  fs.mkdirSync(path.join(root, 'out'));
  fs.writeFileSync(path.join(root, 'out/killed.json'), '{}');
  assert.equal(md.pinObject('fs://out/killed.json', 'killed-put', 1n, 2n), true);
  assert.equal(md.claimDelete('fs://out/gone.json', 1n, 2n), true);
  const staged = path.join(root, '.staging', '1-killed-0');
  fs.writeFileSync(staged, 'partial');
  fs.utimesSync(staged, 1000, 1000);
  const report = s.artifacts.gc({ stagingGraceMs: 60_000n });
  assert.deepEqual(report.blobs, ['fs://out/killed.json']);
  assert.equal(report.staging, 1);
  assert.ok(!fs.existsSync(path.join(root, 'out/killed.json')));
  assert.ok(!fs.existsSync(staged));
  assert.deepEqual(md.staleClaims(MAX, 1000), []);
  assert.equal(s.get('c/x').data.val, '{"a":1}');
});

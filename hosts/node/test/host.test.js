// put / get / head round trips, ranges, streaming, typed errors, and the cross-host blob hashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { memStore, fsStore, homeStore, ArtifactError } from '../index.js';
import { loadJson, patternBody, throwsTag } from './util.js';

/** The error `f` throws. */
const caught = (f) => { try { f(); } catch (e) { return e; } assert.fail('expected an error'); };
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
// Scratch directories, removed when the test process exits.
const scratch = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'artifact-node-'));
  scratch.push(d);
  return d;
};
process.on('exit', () => scratch.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const stores = [['mem', () => memStore()], ['fs', () => fsStore(tmp())], ['home', () => homeStore(tmp())]];
const driverOf = (kind) => (kind === 'mem' ? 'mem' : 'fs');

for (const [kind, open] of stores) {
  test(`${kind}: put / get / head round trip in every mode and compression`, async () => {
    const s = await open();
    for (const compression of ['none', 'gzip', 'deflate']) {
      const body = `{"compression":"${compression}","n":[1,2,3]}`;
      const put = s.put(body, { bucket: 'rt', name: `doc-${compression}`, compression, createdBy: 'node-test' });
      assert.equal(put.created, true);
      assert.equal(put.record.sha256, sha(body));
      assert.equal(put.record.bytes, BigInt(body.length));
      assert.equal(put.record.location.driver, driverOf(kind));
      assert.equal(JSON.parse(put.resultRef).ref, put.record.logicalRef);
      for (const ref of [put.record.id, `rt/doc-${compression}`, put.record.logicalRef, put.resultRef]) {
        assert.deepEqual(s.get(ref).data, { tag: 'json', val: body });
        assert.deepEqual(s.head(ref), put.record);
      }
      assert.deepEqual(s.get(put.record.id, { mode: 'text' }).data, { tag: 'text', val: body });
      assert.equal(Buffer.from(s.get(put.record.id, { mode: 'bytes' }).data.val).toString(), body);
      // get-or-create: the same bucket + name returns the existing artifact.
      const again = s.put('{"other":true}', { bucket: 'rt', name: `doc-${compression}` });
      assert.equal(again.created, false);
      assert.equal(again.record.id, put.record.id);
    }
  });

  test(`${kind}: mode json returns the stored JSON text unchanged`, async () => {
    const s = await open();
    // Digits past f64 precision, a big integer, key order and duplicate keys: a JSON.parse
    // round trip would change every one of them.
    const body = '{"z":0.42451918914251396,"big":12345678901234567890123,"a":[1.0,-0e0,1E400],"z":"dup"}';
    assert.notEqual(JSON.stringify(JSON.parse(body)), body);
    for (const compression of ['none', 'gzip']) {
      const { record } = s.put(body, { bucket: 'json', name: `raw-${compression}`, compression });
      assert.deepEqual(s.get(record.id).data, { tag: 'json', val: body });
      assert.deepEqual(s.get(record.id, { mode: 'json' }).data, { tag: 'json', val: body });
      assert.equal(s.getBytes(record.id, { mode: 'json' }).toString(), body);
    }
  });

  test(`${kind}: ranges over stored and compressed bodies`, async () => {
    const s = await open();
    const body = patternBody(70_000);
    for (const compression of ['none', 'gzip']) {
      const { record } = s.put(body, { compression, contentType: 'application/octet-stream' });
      const got = (range) => Buffer.from(s.get(record.id, { mode: 'bytes', range }).data.val);
      assert.deepEqual(got({ start: 1000, end: 1999 }), body.subarray(1000, 2000));
      assert.deepEqual(got({ start: 69_990 }), body.subarray(69_990));
      assert.deepEqual(got({ suffix: 5 }), body.subarray(-5));
      assert.deepEqual(got({ tag: 'bounded', val: { start: 0n, end: 0n } }), body.subarray(0, 1));
      assert.equal(throwsTag(() => got({ start: 70_000 }), 'range-not-satisfiable').val, 70_000n);
    }
  });

  test(`${kind}: typed errors`, async () => {
    const s = await open();
    throwsTag(() => s.get('b/missing'), 'not-found');
    throwsTag(() => s.head('Bad Ref'), 'invalid-ref');
    throwsTag(() => s.put('{}', { bucket: 'Bad Bucket' }), 'invalid-argument');
    throwsTag(() => s.put('{}', { compression: 'gzip', precompressed: true }), 'decode');
    const { record } = s.put('not json', { bucket: 'e', name: 'text', contentType: 'text/plain' });
    throwsTag(() => s.get(record.id), 'decode'); // default mode is json
    const p = throwsTag(() => s.get(record.id, { maxBytes: 3 }), 'too-large');
    assert.equal(p.val.limit, 3n);
    throwsTag(() => s.put('x', { bucket: 'e', name: 'text', ifExists: 'fail' }), 'conflict');
    throwsTag(() => s.put('{}', { store: 'nosuchdriver' }), 'invalid-argument');
    // ArtifactError: the kind, the Rust host's sentence, the WIT payload.
    const e = caught(() => s.get('e/missing'));
    assert.ok(e instanceof ArtifactError);
    assert.equal(e.kind, 'not-found');
    assert.deepEqual(e.payload, { tag: 'not-found', val: e.message });
    const big = caught(() => s.get(record.id, { maxBytes: 3 }));
    assert.ok(big instanceof ArtifactError);
    assert.equal(big.message, `body of ${record.bytes} bytes exceeds the limit of 3 bytes`);
    const range = caught(() => s.get(record.id, { mode: 'bytes', range: { start: 100 } }));
    assert.equal(range.kind, 'range-not-satisfiable');
    assert.equal(range.message, `range not satisfiable for a body of ${record.bytes} bytes`);
    // Streaming calls too.
    assert.throws(() => s.getBytes('e/missing'), (x) => x instanceof ArtifactError && x.kind === 'not-found');
    await assert.rejects(s.putStream(['{}'], { bucket: 'Bad Bucket' }), (x) => x instanceof ArtifactError && x.kind === 'invalid-argument');
  });

  test(`${kind}: streaming writer and reader move a large body in chunks`, async () => {
    const s = await open();
    const body = crypto.randomBytes(6 << 20);
    function* chunks() { for (let i = 0; i < body.length; i += 1 << 20) yield body.subarray(i, i + (1 << 20)); }
    const put = await s.putStream(chunks(), { name: 'big.bin', compression: 'gzip', contentType: 'application/octet-stream' });
    assert.equal(put.record.bytes, BigInt(body.length));
    assert.equal(put.record.sha256, sha(body));
    const back = s.getBytes('default/big.bin', { mode: 'bytes' });
    assert.ok(back.equals(body));
    const part = s.getBytes(put.record.id, { mode: 'bytes', range: { start: 5 << 20, end: (5 << 20) + 99 } }, 10);
    assert.ok(part.equals(body.subarray(5 << 20, (5 << 20) + 100)));
    // An aborted writer leaves nothing behind.
    const w = s.artifacts.openWriter({ name: 'aborted' });
    w.write(new Uint8Array([1, 2, 3]));
    w.abort();
    w[Symbol.dispose]();
    throwsTag(() => s.head('default/aborted'), 'not-found');
  });
}

for (const [kind, open] of [['fs', fsStore], ['home', homeStore]]) test(`${kind}: records and blobs persist across stores; a corrupted blob is an integrity error`, async () => {
  const root = tmp();
  const a = await open(root);
  const { record } = a.put('{"persist":1}', { bucket: 'p', name: 'x' });
  const b = await open(root);
  assert.equal(b.get('p/x').data.val, '{"persist":1}');
  const file = path.join(b.backends.storage.root, record.location.uri.slice('fs://'.length));
  fs.writeFileSync(file, '{"persist":2}');
  throwsTag(() => b.get('p/x'), 'integrity');
  throwsTag(() => b.getBytes('p/x', { mode: 'bytes' }), 'integrity');
});

test('cross-host: blobs hash exactly as the Rust host stored them (hosts/blobs.json)', async () => {
  const { cases } = loadJson('hosts/blobs.json');
  for (const c of cases) {
    const body = c.body_text !== undefined ? Buffer.from(c.body_text) : patternBody(c.body_size);
    const opts = { compression: c.compression, contentType: 'application/octet-stream' };
    for (const how of ['put', 'writer']) {
      const root = tmp();
      const s = await fsStore(root);
      const { record } = how === 'put' ? s.put(body, opts) : await s.putStream([body], opts, 100_000);
      const what = `${how} ${c.compression} ${body.length}`;
      assert.equal(record.sha256, c.sha256, what);
      assert.equal(record.location.uri, c.uri, what);
      assert.equal(record.storedBytes, BigInt(c.stored_bytes), what);
      assert.equal(sha(fs.readFileSync(path.join(root, c.uri.slice('fs://'.length)))), c.stored_sha256, what);
      fs.rmSync(root, { recursive: true });
    }
  }
});

test('put: a body over 1 MiB goes through the writer and stores exactly what one `put` call stores', async () => {
  const body = crypto.randomBytes((3 << 20) + 12345);
  for (const compression of ['none', 'gzip']) {
    const [a, b] = [await memStore(), await memStore()];
    const opts = { bucket: 'w', name: 'big', compression, contentType: 'application/octet-stream', createdBy: 'x' };
    const chunked = a.put(body, opts).record;
    const whole = b.artifacts.put(body, { ...opts }).record;
    for (const k of ['bytes', 'storedBytes', 'sha256', 'location', 'contentType', 'compression', 'createdBy']) assert.deepEqual(chunked[k], whole[k], k);
    assert.deepEqual(a.backends.storage.objects.get(chunked.location.uri), b.backends.storage.objects.get(whole.location.uri));
    assert.ok(a.getBytes('w/big', { mode: 'bytes' }).equals(body));
    // max-bytes: the error names the whole body, as from one call.
    const e = caught(() => a.put(body, { ...opts, name: 'capped', maxBytes: 1 << 20 }));
    assert.deepEqual(e.payload, { tag: 'too-large', val: { limit: 1n << 20n, needed: BigInt(body.length) } });
    assert.equal(a.put(body, { ...opts, name: 'under', maxBytes: body.length }).record.bytes, BigInt(body.length));
  }
});

for (const [kind, open] of stores) {
  test(`${kind}: list / listAll / find / summary / delete / gc through Store`, async () => {
    const s = await open();
    const ids = [];
    for (let i = 0; i < 7; i++) ids.push(s.put(`{"i":${i}}`, { bucket: 'l', name: `n/${i}` }).record.id);
    s.put('{}', { bucket: 'other', name: 'x' });
    const first = s.list({ bucket: 'l', limit: 3 });
    assert.deepEqual(first.records.map((r) => r.id), ids.slice(0, 3));
    assert.ok(first.nextCursor);
    assert.deepEqual([...s.listAll({ bucket: 'l', limit: 2 })].map((r) => r.id), ids);
    assert.deepEqual([...s.listAll({ bucket: 'l', namePrefix: 'n/', order: 'newest-first', createdAfter: 0 })].map((r) => r.id), [...ids].reverse());
    assert.equal(s.find('l', 'n/3').id, ids[3]);
    assert.deepEqual(s.summary('l'), { count: 7n, totalBytes: 7n * 7n });
    assert.equal(s.delete('l/n/3'), ids[3]);
    assert.equal(caught(() => s.head('l/n/3')).kind, 'not-found');
    assert.equal(caught(() => s.delete('l/n/3')).kind, 'not-found');
    const report = s.gc({ stagingGraceMs: 60_000 });
    assert.deepEqual(report.records, []);
    assert.equal(s.summary('l').count, 6n);
    s.close();
  });
}

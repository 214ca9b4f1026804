// put / get / head round trips, ranges, streaming, typed errors, and the cross-host blob hashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { memStore, fsStore } from '../index.js';
import { loadJson, patternBody, throwsTag } from './util.js';

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
// Scratch directories, removed when the test process exits.
const scratch = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'artifact-node-'));
  scratch.push(d);
  return d;
};
process.on('exit', () => scratch.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

for (const [kind, open] of [['mem', () => memStore()], ['fs', () => fsStore(tmp())]]) {
  test(`${kind}: put / get / head round trip in every mode and compression`, async () => {
    const s = await open();
    for (const compression of ['none', 'gzip', 'deflate']) {
      const body = `{"compression":"${compression}","n":[1,2,3]}`;
      const put = s.put(body, { bucket: 'rt', name: `doc-${compression}`, compression, createdBy: 'node-test' });
      assert.equal(put.created, true);
      assert.equal(put.record.sha256, sha(body));
      assert.equal(put.record.bytes, BigInt(body.length));
      assert.equal(put.record.location.driver, kind);
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

test('fs: records and blobs persist across stores; a corrupted blob is an integrity error', async () => {
  const root = tmp();
  const a = await fsStore(root);
  const { record } = a.put('{"persist":1}', { bucket: 'p', name: 'x' });
  const b = await fsStore(root);
  assert.equal(b.get('p/x').data.val, '{"persist":1}');
  const file = path.join(root, record.location.uri.slice('fs://'.length));
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

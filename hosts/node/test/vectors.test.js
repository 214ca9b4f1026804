// The shared vectors (tests/vectors.json) through the component, as each section's `how` says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memStore } from '../index.js';
import { loadJson, patternBody, wit, throwsTag } from './util.js';

const V = loadJson('tests/vectors.json');
// Every section is a fresh store with a storage driver named `fs` (kept in memory, as src/vectors.rs does).
const fresh = () => memStore({ driver: 'fs' });
const written = (s) => s.backends.storage.objects.size + s.backends.metadata.records.size;

const runners = {
  async logical_uris(sec) {
    const s = await fresh();
    for (const c of sec.valid) throwsTag(() => s.head(c.uri), 'not-found', c.uri);
    for (const c of sec.invalid) throwsTag(() => s.head(c.uri), c.error, `${c.uri} (${c.why})`);
  },
  async refs(sec) {
    const s = await fresh();
    for (const c of sec.cases) throwsTag(() => s.head(c.input), c.error ?? 'not-found', JSON.stringify(c.input));
  },
  async ranges(sec) {
    const s = await fresh();
    for (const compression of ['none', 'gzip', 'deflate']) {
      for (const c of sec.cases) {
        const body = patternBody(c.size);
        const { record } = s.put(body, { compression, contentType: 'application/octet-stream' });
        const what = `${JSON.stringify(c.range)} of ${c.size} (${compression})`;
        const get = () => s.get(record.id, { mode: 'bytes', range: c.range });
        if (c.error) {
          const p = throwsTag(get, c.error, what);
          if (c.error === 'range-not-satisfiable') assert.equal(p.val, BigInt(c.size), what);
        } else {
          const { data } = get();
          assert.equal(data.tag, 'bytes');
          assert.deepEqual(Buffer.from(data.val), body.subarray(c.offset, c.offset + c.len), what);
          // The streaming reader gives the same bytes in small chunks.
          if (c.len > 0) assert.deepEqual(s.getBytes(record.id, { mode: 'bytes', range: c.range }, 7), body.subarray(c.offset, c.offset + c.len), `reader ${what}`);
        }
      }
    }
  },
  async ttls(sec) {
    const s = await fresh();
    for (const c of sec.cases) {
      const put = () => s.put('{}', { ttl: c.ttl });
      if (c.error) { throwsTag(put, c.error, JSON.stringify(c.ttl)); continue; }
      const { record } = put();
      if (c.ms === null) assert.equal(record.expiresAt, undefined, c.ttl);
      else assert.equal(record.expiresAt - record.createdAt, BigInt(c.ms), c.ttl);
    }
  },
  async templates(sec) {
    const s = await fresh();
    for (const c of sec.cases) {
      const before = written(s);
      const put = () => s.put(sec.body_text, { ...wit(c.put), store: c.template });
      if (c.error) {
        throwsTag(put, c.error, `${c.template} (${c.why})`);
        assert.equal(written(s), before, `nothing written for ${c.template}`);
      } else {
        assert.equal(put().record.location.uri, c.rendered, c.template);
      }
    }
  },
  async precompressed(sec) {
    for (const c of sec.cases) {
      const s = await fresh();
      const put = () => s.put(Buffer.from(c.stored_hex, 'hex'), {
        compression: c.compression, precompressed: true, contentType: 'text/plain', maxBytes: c.max_bytes,
      });
      if (c.error) {
        throwsTag(put, c.error, c.about);
        assert.equal(written(s), 0, `nothing written: ${c.about}`);
        continue;
      }
      const { record } = put();
      assert.equal(record.bytes, BigInt(c.bytes), c.about);
      assert.equal(record.sha256, c.sha256, c.about);
      assert.equal(Buffer.from(s.backends.storage.objects.get(record.location.uri)).toString('hex'), c.stored_hex, c.about);
      assert.deepEqual(s.get(record.id, { mode: 'text' }).data, { tag: 'text', val: c.text }, c.about);
    }
  },
  async externalize(sec) {
    const s = await fresh();
    for (const c of sec.cases) {
      const o = c.options ?? {};
      const e = s.artifacts.externalize(c.input_text, {
        inlineMaxBytes: o.inline_max_bytes === undefined ? undefined : BigInt(o.inline_max_bytes),
        previewMaxBytes: o.preview_max_bytes === undefined ? undefined : BigInt(o.preview_max_bytes),
        select: o.select ?? [],
        put: wit(o.put ?? {}),
      });
      const x = c.expect, what = c.name;
      assert.deepEqual(JSON.parse(e.preview), x.preview, `preview: ${what}`);
      assert.deepEqual(JSON.parse(e.extracted), x.extracted, `extracted: ${what}`);
      if (x.error) {
        assert.equal(e.error?.tag, x.error, what);
        assert.equal(e.inline, undefined, what);
        assert.equal(e.resultRef, undefined, what);
        continue;
      }
      assert.equal(e.error, undefined, `${what}: ${JSON.stringify(e.error)}`);
      if (x.inline_text !== undefined) {
        assert.equal(e.inline, x.inline_text, what);
        assert.equal(e.resultRef, undefined, what);
      }
      if (x.stored) {
        assert.equal(e.inline, undefined, what);
        const ref = JSON.parse(e.resultRef);
        assert.equal(ref.meta.bytes, x.bytes, what);
        assert.equal(ref.meta.sha256, x.sha256, what);
        if (x.ref_prefix) assert.ok(ref.ref.startsWith(x.ref_prefix), `${ref.ref} starts with ${x.ref_prefix}`);
        for (const [k, v] of Object.entries(x.meta ?? {})) assert.deepEqual(ref.meta[k], v, `meta.${k}: ${what}`);
        assert.equal(s.get(e.resultRef).data.val, c.input_text.trim(), `get(ref): ${what}`);
      }
    }
  },
};

for (const [name, sec] of Object.entries(V)) {
  if (sec === null || typeof sec !== 'object' || !('how' in sec)) continue;
  if (runners[name]) test(`vectors: ${name}`, () => runners[name](sec));
  else test(`vectors: ${name}`, { skip: 'no runner for this section in the Node host yet' }, () => {});
}

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const loadJson = (rel) => JSON.parse(fs.readFileSync(path.join(repo, rel), 'utf8'));

/** Byte i is i % 251 (the vectors' range body). */
export const patternBody = (n) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = i % 251; return b; };

const camel = (k) => k.replace(/_([a-z])/g, (_m, c) => c.toUpperCase());
const BIG = new Set(['maxBytes', 'inlineMaxBytes', 'previewMaxBytes']);

/** snake_case option objects of the vectors → the WIT's camelCase JS objects (u64 as BigInt). */
export function wit(o) {
  if (Array.isArray(o) || o === null || typeof o !== 'object') return o;
  const out = {};
  for (const [k, v] of Object.entries(o)) {
    const c = camel(k);
    out[c] = BIG.has(c) ? BigInt(v) : wit(v);
  }
  return out;
}

/** Runs `f`, expecting a ComponentError whose payload tag is `tag`; returns the payload. */
export function throwsTag(f, tag, what = '') {
  try { f(); } catch (e) {
    assert.ok(e.payload, `expected a ComponentError ${tag} ${what}, got ${e.stack}`);
    assert.equal(e.payload.tag, tag, `${what}: ${JSON.stringify(e.payload, (_k, v) => (typeof v === 'bigint' ? `${v}` : v))}`);
    return e.payload;
  }
  assert.fail(`expected error ${tag} ${what}, got success`);
}

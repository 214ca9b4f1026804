// MB/s of get for 1 MiB (whole-body `get`) and 64 MiB (streamed through the exported reader).
// Run: npm run bench   (not part of the tests)
import crypto from 'node:crypto';
import { memStore, CHUNK } from './index.js';

const s = await memStore();
const mb = (n, ms) => ((n / 1e6) / (ms / 1e3)).toFixed(1);
function time(f, reps) {
  f();
  const t = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t) / reps;
}
const one = crypto.randomBytes(1 << 20);
const { record: r1 } = s.put(one, { contentType: 'application/octet-stream' });
const ms1 = time(() => s.get(r1.id, { mode: 'bytes' }), 30);
console.log(`get 1 MiB (verified, mode bytes): ${ms1.toFixed(2)} ms = ${mb(one.length, ms1)} MB/s`);
const big = crypto.randomBytes(64 << 20);
const tp = performance.now();
const { record: r64 } = await s.putStream([big], { contentType: 'application/octet-stream' });
const putMs = performance.now() - tp;
console.log(`put 64 MiB (writer, ${CHUNK >> 10} KiB chunks): ${mb(big.length, putMs)} MB/s`);
const ms64 = time(() => { let n = 0; for (const c of s.read(r64.id, { mode: 'bytes' })) n += c.length; if (n !== big.length) throw new Error('short'); }, 3);
console.log(`get 64 MiB (reader, ${CHUNK >> 10} KiB chunks, verified): ${ms64.toFixed(0)} ms = ${mb(big.length, ms64)} MB/s`);
const msw = time(() => s.get(r64.id, { mode: 'bytes' }), 3);
console.log(`get 64 MiB (one get call): ${msw.toFixed(0)} ms = ${mb(big.length, msw)} MB/s`);

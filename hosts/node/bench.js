// MB/s of put and get on homeStore (FsStorage + SqliteMetadata, the Rust CLI's layout) for 1 MiB
// and 64 MiB bodies of random bytes (mode bytes, no compression), whole-body calls and the
// streaming writer / reader; the same on memStore shows what the backends cost.
// Run: npm run bench   (BENCH_HOME=DIR to measure on another disk; not part of the tests)
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { homeStore, memStore, CHUNK } from './index.js';

const MiB = 1 << 20;
const mb = (n, ms) => ((n / 1e6) / (ms / 1e3)).toFixed(0);
const ms = (f) => { const t = performance.now(); f(); return performance.now() - t; };
const msAsync = async (f) => { const t = performance.now(); await f(); return performance.now() - t; };
/** Median of `reps` timings. */
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];

async function bench(label, s) {
  const opts = (name) => ({ bucket: 'bench', name, contentType: 'application/octet-stream' });
  const rows = [];
  for (const [size, reps] of [[MiB, 20], [64 * MiB, 3]]) {
    const tag = size === MiB ? '1 MiB' : '64 MiB';
    // Fresh random bodies: content addressing would make repeated puts of one body cheaper.
    const bodies = Array.from({ length: reps + 1 }, () => crypto.randomBytes(size));
    const n = () => `${tag}-${crypto.randomUUID()}`;
    s.put(bodies[reps], opts(n())); // warm-up
    const put = median(bodies.slice(0, reps).map((b) => ms(() => s.put(b, opts(n())))));
    const streamed = [];
    for (const b of bodies.slice(0, reps)) streamed.push(await msAsync(() => s.putStream([b], opts(n()))));
    const { record } = s.put(bodies[0], opts(n()));
    const get = median(Array.from({ length: reps }, () => ms(() => s.get(record.id, { mode: 'bytes' }))));
    const read = median(Array.from({ length: reps }, () => ms(() => {
      let got = 0;
      for (const c of s.read(record.id, { mode: 'bytes' })) got += c.length;
      if (got !== size) throw new Error('short read');
    })));
    rows.push([`${label} put ${tag}`, put, size], [`${label} put ${tag} (writer, ${CHUNK >> 10} KiB chunks)`, median(streamed), size],
      [`${label} get ${tag}`, get, size], [`${label} get ${tag} (reader, ${CHUNK >> 10} KiB chunks)`, read, size]);
    bodies.length = 0;
  }
  for (const [what, t, size] of rows) console.log(`${what.padEnd(48)} ${t.toFixed(1).padStart(8)} ms  ${mb(size, t).padStart(5)} MB/s`);
}

const home = process.env.BENCH_HOME ?? fs.mkdtempSync(path.join(os.tmpdir(), 'artifact-bench-'));
try {
  console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), home ${home}`);
  const h = await homeStore(home);
  await bench('home', h);
  h.close();
  await bench('mem ', await memStore());
} finally {
  if (!process.env.BENCH_HOME) fs.rmSync(home, { recursive: true, force: true });
}

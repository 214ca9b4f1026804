// Compiled (not run) by test/types.test.js with `tsc --noEmit`: the declarations of index.d.ts
// and the jco-generated WIT types they refer to.
import {
  homeStore, memStore, ArtifactError, recordJson, headJson, SqliteMetadata, FsStorage, openStore,
  type ArtifactRecord, type ErrorKind, type PutResult, type RecordJson, type Store,
} from '../../index.js';

export async function use(): Promise<void> {
  const s: Store = await homeStore('/tmp/x');
  const put: PutResult = s.put('{"a":1}', { bucket: 'b', name: 'n', compression: 'gzip', maxBytes: 10 });
  const r: ArtifactRecord = put.record;
  const size: bigint = r.bytes;
  const created: boolean = put.created;
  const got = s.get('b/n', { mode: 'bytes', range: { start: 0, end: 9 } });
  if (got.data.tag === 'bytes') { const b: Uint8Array = got.data.val; void b; }
  if (got.data.tag === 'json') { const t: string = got.data.val; void t; }
  for (const chunk of s.read(r.id, { range: { suffix: 5n } })) { const c: Uint8Array = chunk; void c; }
  const page = s.list({ bucket: 'b', order: 'newest-first', createdAfter: 0 });
  const next: string | undefined = page.nextCursor;
  const json: RecordJson = recordJson(r);
  const line: string = headJson(r);
  const bytes: number = json.bytes;
  await s.putStream((async function* () { yield new Uint8Array(1); yield 'text'; })(), { contentType: 'text/plain' });
  try { s.head('b/missing'); } catch (e) {
    if (e instanceof ArtifactError) {
      const k: ErrorKind = e.kind;
      if (e.payload.tag === 'too-large') { const limit: bigint = e.payload.val.limit; void limit; }
      void k;
    }
  }
  // @ts-expect-error: not a WIT compression
  s.put('x', { compression: 'zstd' });
  // @ts-expect-error: kinds are the WIT cases
  const bad: ErrorKind = 'missing';
  const m = new SqliteMetadata('/tmp/x/metadata.db');
  const other = await openStore({ storage: new FsStorage('/tmp/y'), metadata: m, config: { a: 1 } });
  const mem = await memStore({ driver: 'fs' });
  s.close(); other.close(); void mem;
  void [size, created, next, line, bytes, bad];
}

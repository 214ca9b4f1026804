// The artifact component in Node: put / get / head (+ streaming) over JS storage and metadata.
// Run `npm run build` (or `npm test`) first: it transpiles the .wasm into gen/ with jco.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { instantiate } from './gen/artifact.js';
import { importObject } from './imports.js';
import { MemStorage, MemMetadata } from './backends/mem.js';
import { FsStorage, FsMetadata } from './backends/fs.js';

export { MemStorage, MemMetadata, FsStorage, FsMetadata };

const gen = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gen');
const modules = new Map();
// Core modules are compiled once per process and shared by every store.
const getCoreModule = (name) => {
  if (!modules.has(name)) modules.set(name, WebAssembly.compile(fs.readFileSync(path.join(gen, name))));
  return modules.get(name);
};

/** Largest chunk handed to one writer.write / asked of one reader.read. */
export const CHUNK = 256 << 10;

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

/**
 * An artifact store: one component instance over the given backends. Methods throw the
 * component's `ComponentError`, whose `.payload` is the WIT error `{tag, val}`.
 */
export class Store {
  constructor(artifacts, backends) {
    this.artifacts = artifacts; // the raw export (every WIT function, camelCase)
    this.backends = backends;
  }
  /** Stores `data` (Uint8Array or string); returns `{record, created, resultRef}`. */
  put(data, options) { return this.artifacts.put(bytesOf(data), putOptions(options)); }
  /** Reads a body: `{data: {tag: 'json'|'text'|'bytes', val}, meta}`. */
  get(ref, options) { return this.artifacts.get(ref, getOptions(options)); }
  /** The record, without reading the body. */
  head(ref) { return this.artifacts.head(ref); }
  /** Streams chunks of the logical body (verified at the end for full reads). */
  *read(ref, options, chunk = CHUNK) {
    const reader = this.artifacts.openReader(ref, getOptions(options));
    try {
      for (;;) {
        const c = reader.read(chunk);
        if (c.length === 0) return;
        yield c;
      }
    } finally { reader[Symbol.dispose](); }
  }
  /** Reads a whole body through the streaming reader into one Buffer. */
  getBytes(ref, options, chunk = CHUNK) { return Buffer.concat([...this.read(ref, options, chunk)]); }
  /** Stores a body given as an (async) iterable of chunks through the streaming writer. */
  async putStream(chunks, options, chunk = CHUNK) {
    const w = this.artifacts.openWriter(putOptions(options));
    try {
      for await (let c of chunks) {
        c = bytesOf(c);
        for (let i = 0; i < c.length; i += chunk) w.write(c.subarray(i, i + chunk));
      }
      return w.finish();
    } catch (e) { w.abort(); throw e; } finally { w[Symbol.dispose](); }
  }
  /** Stores a file through the streaming writer. */
  putFile(file, options) { return this.putStream(fs.createReadStream(file, { highWaterMark: CHUNK }), options); }
}

/** Instantiates the component over `{storage, metadata, config}` backends. */
export async function openStore(backends) {
  const root = await instantiate(getCoreModule, importObject(backends));
  return new Store(root.artifacts, backends);
}

/** A store kept in memory; `driver` is the storage driver name (default `mem`). */
export const memStore = ({ driver = 'mem', config } = {}) =>
  openStore({ storage: new MemStorage({ driver }), metadata: new MemMetadata(), config });

/** A store under `root`: blobs as files (driver `fs`), records in `root/metadata.json`. */
export const fsStore = (root, { config } = {}) =>
  openStore({ storage: new FsStorage(root), metadata: new FsMetadata(path.join(root, 'metadata.json')), config });

// In-memory storage and metadata: the semantics of the Rust `mem` backends (src/backend.rs).
import { notFound, invalidArgument, conflict, storageError } from './errors.js';
import { page, uriPage, cmpUtf8 } from './cursor.js';

const finished = () => storageError('writer is finished');

/** Objects in a Map keyed by full URI; staged bytes live in their writer until commit. */
export class MemStorage {
  /** @param {{driver?: string}} [opts] driver name (URI scheme) to answer to; default `mem`. */
  constructor({ driver = 'mem' } = {}) {
    this.driver = driver;
    this.objects = new Map();
  }
  drivers() { return [this.driver]; }
  createWriter(driver) {
    if (driver !== this.driver) throw invalidArgument(`driver ${JSON.stringify(driver)} is not configured`);
    const objects = this.objects;
    let parts = [];
    return {
      write(chunk) { if (!parts) throw finished(); parts.push(Uint8Array.from(chunk)); },
      commit(uri, publish) {
        if (!parts) throw finished();
        const body = Buffer.concat(parts);
        parts = null;
        if (publish === 'if-absent' && objects.has(uri)) return false;
        objects.set(uri, new Uint8Array(body.buffer, body.byteOffset, body.length));
        return true;
      },
      abort() { parts = null; },
    };
  }
  read(uri, offset, len) {
    const b = this.objects.get(uri);
    if (!b) throw notFound(`no object at ${uri}`);
    const size = BigInt(b.length);
    const start = offset < size ? offset : size;
    const end = offset + len < size ? offset + len : size;
    return b.subarray(Number(start), Number(end));
  }
  stat(uri) {
    const b = this.objects.get(uri);
    return b === undefined ? undefined : BigInt(b.length);
  }
  listObjects(prefix, cursor, limit) {
    return uriPage([...this.objects.keys()].sort(cmpUtf8), prefix, cursor, limit);
  }
  delete(uri) { return this.objects.delete(uri); }
}

/** Records in a Map keyed by id; unique on id, logical ref and (bucket, name). */
export class MemMetadata {
  constructor() { this.records = new Map(); }
  /** Called after every change (the fs backend persists here). */
  changed() {}
  insertIfAbsent(rec) {
    for (const r of this.records.values()) {
      if (r.bucket === rec.bucket && r.name === rec.name) return { record: r, created: false };
    }
    for (const r of this.records.values()) {
      if (r.id === rec.id || r.logicalRef === rec.logicalRef) throw conflict(`id or ref of ${rec.id} already taken`);
    }
    this.records.set(rec.id, rec);
    this.changed();
    return { record: rec, created: true };
  }
  update(rec) {
    if (!this.records.has(rec.id)) throw notFound(`no artifact with id ${rec.id}`);
    this.records.set(rec.id, rec);
    this.changed();
  }
  getById(id) { return this.records.get(id); }
  getByRef(ref) { for (const r of this.records.values()) if (r.logicalRef === ref) return r; return undefined; }
  getByName(bucket, name) {
    for (const r of this.records.values()) if (r.bucket === bucket && r.name === name) return r;
    return undefined;
  }
  list(q) { return page([...this.records.values()], q); }
  summary(bucket) {
    let count = 0n, totalBytes = 0n;
    for (const r of this.records.values()) if (r.bucket === bucket) { count += 1n; totalBytes += r.bytes; }
    return { count, totalBytes };
  }
  delete(id) { const had = this.records.delete(id); if (had) this.changed(); return had; }
  touch(_id, _at) {}
}

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
  /** Staged bytes live only in their writer (gone with it): nothing to collect. */
  collectStaging(_before) { return 0; }
}

const clamp = (limit) => Math.min(Math.max(Number(limit), 1), 1000);

/**
 * Records in a Map keyed by id; unique on id, logical ref and (bucket, name). Object claims
 * (wit/metadata.wit, "the deletion contract"): `pins` maps uri → Map(holder → until) and
 * `deletes` maps uri → until (timestamps are BigInt ms). Every method runs to completion on
 * Node's one thread, so each is atomic.
 */
export class MemMetadata {
  constructor() {
    this.records = new Map();
    this.pins = new Map();
    this.deletes = new Map();
  }
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

  /** Pins `uri` for `holder` until `until`, unless a delete claim is live at `now`. */
  pinObject(uri, holder, now, until) {
    const d = this.deletes.get(uri);
    if (d !== undefined && d > now) return false;
    let held = this.pins.get(uri);
    if (!held) this.pins.set(uri, (held = new Map()));
    held.set(holder, until);
    this.changed();
    return true;
  }
  unpinObject(uri, holder) {
    const held = this.pins.get(uri);
    if (!held || !held.delete(holder)) return;
    if (held.size === 0) this.pins.delete(uri);
    this.changed();
  }
  /** Drops the URI's claims with `until <= now`, then claims it if nothing uses it. */
  claimDelete(uri, now, until) {
    let dropped = false;
    const held = this.pins.get(uri);
    if (held) {
      for (const [h, u] of held) if (u <= now) { held.delete(h); dropped = true; }
      if (held.size === 0) this.pins.delete(uri);
    }
    const d = this.deletes.get(uri);
    if (d !== undefined && d <= now) { this.deletes.delete(uri); dropped = true; }
    let used = this.pins.has(uri) || this.deletes.has(uri);
    if (!used) for (const r of this.records.values()) if (r.location.uri === uri) { used = true; break; }
    if (!used) this.deletes.set(uri, until);
    if (dropped || !used) this.changed();
    return !used;
  }
  /**
   * Ends the delete claim on `uri`, with the URI's pins that had expired by the claim's own
   * `until` (no pin can be taken while the claim is live, so a pin that old is a dead one).
   */
  finishDelete(uri) {
    const d = this.deletes.get(uri);
    if (d === undefined) return;
    this.deletes.delete(uri);
    const held = this.pins.get(uri);
    if (held) {
      for (const [h, u] of held) if (u <= d) held.delete(h);
      if (held.size === 0) this.pins.delete(uri);
    }
    this.changed();
  }
  /** Distinct URIs with a pin or delete claim whose `until <= before`, ascending, clamped. */
  staleClaims(before, limit) {
    const uris = new Set();
    for (const [uri, held] of this.pins) for (const u of held.values()) if (u <= before) { uris.add(uri); break; }
    for (const [uri, u] of this.deletes) if (u <= before) uris.add(uri);
    return [...uris].sort(cmpUtf8).slice(0, clamp(limit));
  }
}

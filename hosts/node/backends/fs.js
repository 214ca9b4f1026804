// node:fs storage (driver `fs`) with the layout of host/src/storage/fs.rs: `fs://blobs/...` is
// `<root>/blobs/...`; writers stage in `<root>/.staging/` and publish with link (if-absent) or
// rename (overwrite), so readers only ever see whole objects (fsync of the file before, of its
// directory after; a parent pruned by a concurrent delete is recreated); `collectStaging` removes staged
// files a killed process left behind. FsMetadata keeps the records and object claims in
// `<root>/metadata.json` (rewritten atomically on every change; one process at a time).
import fs from 'node:fs';
import path from 'node:path';
import { notFound, invalidArgument, storageError, metadataError } from './errors.js';
import { uriPage, cmpUtf8 } from './cursor.js';
import { MemMetadata } from './mem.js';

const SCHEME = 'fs://';
const STAGING = '.staging';
const MAX_READ_LEN = 64n << 20n;
let counter = 0;
// Staging files of this process's unfinished writers: never collected, however old.
const liveStaged = new Set();

const ioErr = (op, p, e) => storageError(`${op} ${p}: ${e.message}`);

/**
 * Runs `publish()` (a link or rename to `dest`), creating `dest`'s parents first and retrying if
 * a concurrent `delete` (of this or another process) pruned an empty parent in between.
 */
function publishWith(dest, publish) {
  const parent = path.dirname(dest);
  for (let attempts = 0; ; attempts++) {
    try { fs.mkdirSync(parent, { recursive: true }); } catch (e) { throw ioErr('create directory', parent, e); }
    try { return publish(); } catch (e) { if (e.code !== 'ENOENT' || attempts >= 3) throw e; }
  }
}

/** fsyncs a directory so a link or rename in it is durable. Best effort. */
function syncDir(dir) {
  let fd;
  try { fd = fs.openSync(dir, 'r'); fs.fsyncSync(fd); } catch {} finally { if (fd !== undefined) try { fs.closeSync(fd); } catch {} }
}

function objectPath(uri) {
  if (!uri.startsWith(SCHEME)) throw invalidArgument(`${JSON.stringify(uri)} is not an fs:// URI`);
  const rel = uri.slice(SCHEME.length);
  const bad = (why) => invalidArgument(`invalid object URI ${JSON.stringify(uri)}: ${why}`);
  if (rel === '') throw bad('empty path');
  if (Buffer.byteLength(rel) > 1024) throw bad('path too long');
  if (rel.startsWith('/')) throw bad('absolute paths are not allowed');
  if (rel.includes('\\') || rel.includes('\0')) throw bad('backslash or NUL in path');
  rel.split('/').forEach((seg, i) => {
    if (seg === '') throw bad('empty path segment');
    if (seg === '.' || seg === '..') throw bad('relative path segment');
    if (seg === STAGING && i === 0) throw bad('reserved path');
  });
  return rel;
}

export class FsStorage {
  constructor(root) {
    fs.mkdirSync(root, { recursive: true });
    this.root = fs.realpathSync(root);
    this.staging = path.join(this.root, STAGING);
    fs.mkdirSync(this.staging, { recursive: true });
  }
  pathOf(uri) { return path.join(this.root, objectPath(uri)); }
  drivers() { return ['fs']; }
  createWriter(driver) {
    if (driver !== 'fs') throw invalidArgument(`driver ${JSON.stringify(driver)} is not configured`);
    fs.mkdirSync(this.staging, { recursive: true });
    const staged = path.join(this.staging, `${process.pid}-${Date.now().toString(16)}-${counter++}`);
    let fd;
    try { fd = fs.openSync(staged, 'wx'); } catch (e) { throw ioErr('create staging file', staged, e); }
    liveStaged.add(staged);
    const root = this.root;
    const done = () => { if (fd === null) throw storageError('writer is finished'); };
    return {
      write(chunk) {
        done();
        try { fs.writeSync(fd, chunk); } catch (e) { throw ioErr('write', staged, e); }
      },
      commit(uri, publish) {
        done();
        const dest = path.join(root, objectPath(uri));
        try {
          fs.fsyncSync(fd);
          fs.closeSync(fd);
          fd = null;
          let stored = true;
          if (publish === 'if-absent') {
            try { publishWith(dest, () => fs.linkSync(staged, dest)); } catch (e) {
              if (e.code !== 'EEXIST' || fs.statSync(dest).isDirectory()) throw ioErr('publish', dest, e);
              stored = false;
            }
          } else {
            if (fs.existsSync(dest) && fs.statSync(dest).isDirectory()) throw storageError(`publish ${dest}: a directory is in the way`);
            try { publishWith(dest, () => fs.renameSync(staged, dest)); } catch (e) { throw ioErr('publish', dest, e); }
          }
          syncDir(path.dirname(dest));
          return stored;
        } finally {
          if (fd !== null) { try { fs.closeSync(fd); } catch {} fd = null; }
          try { fs.unlinkSync(staged); } catch {}
          liveStaged.delete(staged);
        }
      },
      abort() {
        if (fd === null) return;
        try { fs.closeSync(fd); } catch {}
        fd = null;
        try { fs.unlinkSync(staged); } catch {}
        liveStaged.delete(staged);
      },
    };
  }
  read(uri, offset, len) {
    const p = this.pathOf(uri);
    let fd;
    try { fd = fs.openSync(p, 'r'); } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR' || e.code === 'EISDIR') throw notFound(`no object at ${uri}`);
      throw ioErr('open', p, e);
    }
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      if (!st.isFile()) throw notFound(`no object at ${uri}`);
      if (offset >= st.size) return new Uint8Array(0);
      let n = len < MAX_READ_LEN ? len : MAX_READ_LEN;
      if (n > st.size - offset) n = st.size - offset;
      const buf = Buffer.allocUnsafe(Number(n));
      let got = 0;
      while (got < buf.length) {
        const r = fs.readSync(fd, buf, got, buf.length - got, Number(offset) + got);
        if (r === 0) break;
        got += r;
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, got);
    } finally { fs.closeSync(fd); }
  }
  stat(uri) {
    const p = this.pathOf(uri);
    try {
      const st = fs.statSync(p, { bigint: true });
      return st.isFile() ? st.size : undefined;
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
      throw ioErr('stat', p, e);
    }
  }
  listObjects(prefix, cursor, limit) {
    if (!prefix.startsWith(SCHEME)) throw invalidArgument(`${JSON.stringify(prefix)} is not an fs:// prefix`);
    const rel = prefix.slice(SCHEME.length);
    if (rel.split('/').slice(0, -1).some((s) => s === '' || s === '.' || s === '..') || rel.includes('\\') || rel.includes('\0') || rel.startsWith('/')) {
      throw invalidArgument(`invalid prefix ${JSON.stringify(prefix)}`);
    }
    const base = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/') + 1) : '';
    const uris = [];
    const walk = (dir, uriBase) => {
      let entries;
      try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch (e) {
        if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return;
        throw ioErr('list', dir, e);
      }
      for (const ent of entries) {
        if (ent.name.includes('\\') || (uriBase === SCHEME && ent.name === STAGING)) continue;
        const full = path.join(dir, ent.name);
        let isDir = ent.isDirectory(), isFile = ent.isFile();
        if (ent.isSymbolicLink()) { try { const s = fs.statSync(full); isDir = s.isDirectory(); isFile = s.isFile(); } catch { continue; } }
        const uri = uriBase + ent.name;
        if (isDir && ((uri + '/').startsWith(prefix) || prefix.startsWith(uri + '/'))) walk(full, uri + '/');
        else if (isFile && uri.startsWith(prefix)) uris.push(uri);
      }
    };
    walk(path.join(this.root, base), SCHEME + base);
    return uriPage(uris.sort(cmpUtf8), prefix, cursor, limit);
  }
  delete(uri) {
    const p = this.pathOf(uri);
    try {
      if (fs.lstatSync(p).isDirectory()) return false;
      fs.unlinkSync(p);
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return false;
      throw ioErr('delete', p, e);
    }
    for (let d = path.dirname(p); d !== this.root && d.startsWith(this.root + path.sep); d = path.dirname(d)) {
      try { fs.rmdirSync(d); } catch { break; }
    }
    return true;
  }
  /**
   * Removes the regular files in `<root>/.staging/` last modified before `before` (ms since the
   * epoch, a BigInt), except those of this process's unfinished writers. A staged file's mtime
   * is at or after the moment its write began, so writes begun at or after `before` are never
   * touched; committed objects live outside `.staging/` and are never looked at.
   */
  collectStaging(before) {
    const limitNs = BigInt(before) * 1_000_000n;
    let entries;
    try { entries = fs.readdirSync(this.staging, { withFileTypes: true }); } catch (e) {
      if (e.code === 'ENOENT') return 0;
      throw ioErr('list', this.staging, e);
    }
    let removed = 0;
    for (const ent of entries) {
      if (!ent.isFile()) continue;
      const p = path.join(this.staging, ent.name);
      if (liveStaged.has(p)) continue;
      try {
        if (fs.lstatSync(p, { bigint: true }).mtimeNs >= limitNs) continue;
        fs.unlinkSync(p);
        removed += 1;
      } catch (e) {
        if (e.code === 'ENOENT') continue; // removed meanwhile (committed, aborted or collected)
        throw ioErr('collect', p, e);
      }
    }
    return removed;
  }
}

const BIG = ['bytes', 'storedBytes', 'createdAt', 'updatedAt', 'expiresAt'];

/**
 * MemMetadata persisted to one JSON file (u64 fields as decimal strings):
 * `{"records": [...], "pins": [{uri, holder, until}], "deletes": [{uri, until}]}`. A file holding
 * a bare array of records (the format before object claims) is read as records without claims.
 */
export class FsMetadata extends MemMetadata {
  constructor(file) {
    super();
    this.file = file;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (fs.existsSync(file)) {
      const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
      const { records = [], pins = [], deletes = [] } = Array.isArray(doc) ? { records: doc } : doc;
      for (const r of records) {
        for (const k of BIG) if (r[k] !== undefined) r[k] = BigInt(r[k]);
        this.records.set(r.id, r);
      }
      for (const { uri, holder, until } of pins) {
        if (!this.pins.has(uri)) this.pins.set(uri, new Map());
        this.pins.get(uri).set(holder, BigInt(until));
      }
      for (const { uri, until } of deletes) this.deletes.set(uri, BigInt(until));
    }
  }
  changed() {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const doc = {
      records: [...this.records.values()],
      pins: [...this.pins].flatMap(([uri, held]) => [...held].map(([holder, until]) => ({ uri, holder, until }))),
      deletes: [...this.deletes].map(([uri, until]) => ({ uri, until })),
    };
    try {
      fs.writeFileSync(tmp, JSON.stringify(doc, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
      fs.renameSync(tmp, this.file);
    } catch (e) { throw metadataError(`persist ${this.file}: ${e.message}`); }
  }
}

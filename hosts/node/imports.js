// Turns a JS storage backend and metadata backend into the import objects the transpiled
// component expects (see gen/interfaces/artifact-store-{storage,metadata}.d.ts).
import { createHash } from 'node:crypto';
import { cli, clocks, io, random } from '@bytecodealliance/preview2-shim';
import { invalidArgument } from './backends/errors.js';

/** Largest `read-chunks` answer (bytes), rounded down to whole chunks. */
const MAX_CHUNKED_READ = 64n << 20n;

/** `invalid-argument` unless `size` (a BigInt) is a power of two from 64 KiB to 16 MiB (WIT `create-writer`). */
function checkChunkSize(size) {
  if (size < (64n << 10n) || size > (16n << 20n) || (size & (size - 1n)) !== 0n) {
    throw invalidArgument(`chunk size ${size} is not a power of two from 64 KiB to 16 MiB`);
  }
  return Number(size);
}

/** SHA-256 of each `chunk`-byte piece of `bytes`, concatenated (WIT `chunks`), in node:crypto. */
function pieceDigests(bytes, chunk) {
  const n = Math.ceil(bytes.length / chunk);
  const out = new Uint8Array(n * 32);
  for (let i = 0; i < n; i++) {
    out.set(createHash('sha256').update(bytes.subarray(i * chunk, (i + 1) * chunk)).digest(), i * 32);
  }
  return out;
}

/** Digests of a stream of writes: the whole and each `chunk`-byte piece (WIT `writer.digests`). */
class StreamDigests {
  #chunk; #whole = createHash('sha256'); #cur = createHash('sha256'); #inCur = 0; #done = []; #size = 0n;
  constructor(chunk) { this.#chunk = chunk; }
  update(data) {
    this.#whole.update(data);
    this.#size += BigInt(data.length);
    let at = 0;
    while (at < data.length) {
      const take = Math.min(this.#chunk - this.#inCur, data.length - at);
      this.#cur.update(data.subarray(at, at + take));
      this.#inCur += take;
      at += take;
      if (this.#inCur === this.#chunk) {
        this.#done.push(this.#cur.digest());
        this.#cur = createHash('sha256');
        this.#inCur = 0;
      }
    }
  }
  result() {
    const chunks = [...this.#done];
    if (this.#inCur > 0) chunks.push(this.#cur.copy().digest());
    const flat = new Uint8Array(chunks.length * 32);
    chunks.forEach((d, i) => flat.set(d, i * 32));
    // node:crypto has no BLAKE3: SHA-256 chunk digests only (WIT `digests.blake3-chunks`).
    return { size: this.#size, sha256: new Uint8Array(this.#whole.copy().digest()), chunks: flat, blake3Chunks: undefined };
  }
}

/**
 * `artifact:store/storage` over a backend with drivers/createWriter/read/stat/listObjects/delete
 * and collectStaging (a backend without it has no persistent staging: collect-staging is 0).
 */
export function storageImports(backend) {
  // jco checks `instanceof Writer` on what createWriter returns, so each store has its own class.
  // Digests are computed here, over what the backend accepted, for every backend alike.
  class Writer {
    #inner; #digests;
    constructor(inner, chunk) { this.#inner = inner; this.#digests = new StreamDigests(chunk); }
    write(chunk) { this.#inner.write(chunk); this.#digests.update(chunk); }
    digests() { return this.#digests.result(); }
    commit(uri, publish) { return this.#inner.commit(uri, publish); }
    abort() { this.#inner.abort(); }
    [Symbol.dispose]() { this.#inner.abort(); } // dropping an uncommitted writer aborts it
  }
  return {
    Writer,
    drivers: () => backend.drivers(),
    createWriter: (driver, chunkSize) => {
      const chunk = checkChunkSize(chunkSize);
      return new Writer(backend.createWriter(driver), chunk);
    },
    read: (uri, offset, len) => backend.read(uri, offset, len),
    readChunks: (uri, offset, len, chunkSize) => {
      const chunk = checkChunkSize(chunkSize);
      const cap = (MAX_CHUNKED_READ / chunkSize) * chunkSize;
      const want = Number(len < cap ? len : cap);
      const parts = [];
      let got = 0;
      while (got < want) {
        const ask = want - got;
        const part = backend.read(uri, offset + BigInt(got), BigInt(ask));
        if (part.length === 0) break;
        parts.push(part);
        got += part.length;
        // Short is the end: every backend serves up to 64 MiB per read, and `want` is no more.
        // (Asking again would open the file a second time to find nothing.)
        if (part.length < ask) break;
      }
      const bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), chunks: pieceDigests(bytes, chunk) };
    },
    stat: (uri) => { const size = backend.stat(uri); return size === undefined ? undefined : { size }; },
    listObjects: (prefix, cursor, limit) => backend.listObjects(prefix, cursor, limit),
    delete: (uri) => backend.delete(uri),
    collectStaging: (before) => (backend.collectStaging ? backend.collectStaging(before) : 0),
  };
}

/** `artifact:store/metadata` over a backend with the same method names. */
export function metadataImports(backend) {
  const m = {};
  for (const k of ['insertIfAbsent', 'update', 'getById', 'getByRef', 'getByName', 'list', 'summary', 'delete', 'touch',
    'pinObject', 'unpinObject', 'claimDelete', 'finishDelete', 'staleClaims']) {
    m[k] = backend[k].bind(backend);
  }
  return m;
}

/** `wasi:config/store` over a plain object of string values. */
export function configImports(values = {}) {
  return {
    get: (key) => (Object.hasOwn(values, key) ? String(values[key]) : undefined),
    getAll: () => Object.entries(values).map(([k, v]) => [k, String(v)]),
  };
}

/** Everything the instance imports, keyed as the instantiation-mode output wants. */
export function importObject({ storage, metadata, config }) {
  const cfg = configImports(config);
  return {
    './storage.js': storageImports(storage),
    './metadata.js': metadataImports(metadata),
    './types.js': {},
    './config.js': cfg,
    // The component sees no host environment, arguments or cwd.
    'wasi:cli/environment': { getEnvironment: () => [], getArguments: () => [], initialCwd: () => undefined },
    'wasi:cli/exit': cli.exit,
    'wasi:cli/stderr': cli.stderr,
    'wasi:cli/stdin': cli.stdin,
    'wasi:cli/stdout': cli.stdout,
    'wasi:cli/terminal-input': cli.terminalInput,
    'wasi:cli/terminal-output': cli.terminalOutput,
    'wasi:cli/terminal-stderr': cli.terminalStderr,
    'wasi:cli/terminal-stdin': cli.terminalStdin,
    'wasi:cli/terminal-stdout': cli.terminalStdout,
    'wasi:clocks/monotonic-clock': clocks.monotonicClock,
    'wasi:clocks/wall-clock': clocks.wallClock,
    'wasi:io/error': io.error,
    'wasi:io/poll': io.poll,
    'wasi:io/streams': io.streams,
    'wasi:random/insecure-seed': random.insecureSeed,
    'wasi:random/random': random.random,
  };
}

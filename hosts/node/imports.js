// Turns a JS storage backend and metadata backend into the import objects the transpiled
// component expects (see gen/interfaces/artifact-store-{storage,metadata}.d.ts).
import { cli, clocks, io, random } from '@bytecodealliance/preview2-shim';

/**
 * `artifact:store/storage` over a backend with drivers/createWriter/read/stat/listObjects/delete
 * and collectStaging (a backend without it has no persistent staging: collect-staging is 0).
 */
export function storageImports(backend) {
  // jco checks `instanceof Writer` on what createWriter returns, so each store has its own class.
  class Writer {
    #inner;
    constructor(inner) { this.#inner = inner; }
    write(chunk) { this.#inner.write(chunk); }
    commit(uri, publish) { return this.#inner.commit(uri, publish); }
    abort() { this.#inner.abort(); }
    [Symbol.dispose]() { this.#inner.abort(); } // dropping an uncommitted writer aborts it
  }
  return {
    Writer,
    drivers: () => backend.drivers(),
    createWriter: (driver) => new Writer(backend.createWriter(driver)),
    read: (uri, offset, len) => backend.read(uri, offset, len),
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

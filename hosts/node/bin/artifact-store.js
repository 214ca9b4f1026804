#!/usr/bin/env node
// artifact-store: a small CLI over homeStore() (the home of the Rust `artifact` CLI: --home,
// else $ARTIFACT_HOME, else ./.artifacts). It prints what `artifact` prints for the same
// commands: put → the ResultRef with `created`; get → {"status","data","meta"} (bytes mode: the
// raw bytes); head → {"meta","status"}; ls → one `meta` object per line (as `artifact ls --json`)
// and {"next_cursor":…} when a page is cut. Errors: {"error":{"kind","message"},"status":"error"}
// on stdout, `artifact-store: KIND error: MESSAGE` on stderr, the Rust CLI's exit code by kind.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { once } from 'node:events';
import {
  homeStore, defaultHome, ArtifactError, recordJson, headJson, putJson, getJson, toRange,
} from '../index.js';

const USAGE = `usage: artifact-store [--home DIR] COMMAND ...
  put FILE|-  [--bucket B] [--name N] [--content-type T|auto] [--compression none|gzip|deflate]
              [--precompressed] [--created-by X] [--if-exists get|overwrite|fail] [--store S]
              [--execution-id E] [--step S] [--scope S] [--ttl T] [--temp] [--max-bytes N]
  get REF     [--mode json|text|bytes] [--range START-END|START-|-N] [--max-bytes N] [-o FILE]
  head REF
  ls [BUCKET] [--bucket B] [--prefix P] [--name N] [--created-by X] [--newest] [--limit N]
              [--cursor C] [--all]
The home is --home, else $ARTIFACT_HOME, else ./.artifacts (as for the Rust \`artifact\` CLI).`;

/** Exit codes by error kind: host/src/exit.rs. */
const EXIT = [
  [1, ['deadline', 'memory-limit', 'trap', 'load', 'plugin']],
  [2, ['usage', 'invalid-argument', 'invalid-ref', 'decode', 'range-not-satisfiable']],
  [3, ['not-found']],
  [4, ['expired']],
  [5, ['conflict']],
  [6, ['too-large']],
  [7, ['integrity']],
  [8, ['forbidden']],
  [9, ['storage', 'metadata', 'io']],
];
const exitCode = (kind) => EXIT.find(([, kinds]) => kinds.includes(kind))?.[0] ?? 1;

class CliError extends Error {
  constructor(kind, message) { super(message); this.kind = kind; }
}
const usage = (m) => new CliError('usage', m);

// Extensions → types, as the Rust CLI's table (mime_guess 2.0.5) gives them. Other extensions
// fall through to the body test below; --content-type sets any type.
const MIME = {
  json: 'application/json', csv: 'text/csv', tsv: 'text/tab-separated-values', txt: 'text/plain', log: 'text/plain',
  md: 'text/markdown', html: 'text/html', htm: 'text/html', xml: 'text/xml', css: 'text/css', js: 'text/javascript',
  mjs: 'application/javascript', yaml: 'text/x-yaml', yml: 'text/x-yaml', toml: 'text/x-toml', py: 'text/plain',
  rs: 'text/x-rust', parquet: 'application/vnd.apache.parquet', pdf: 'application/pdf', png: 'image/png',
  jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', svg: 'image/svg+xml', gz: 'application/gzip',
  zip: 'application/zip', tar: 'application/x-tar', wasm: 'application/wasm', bin: 'application/octet-stream',
};
const SNIFF = 1 << 20;
const byName = (name) => {
  const i = name.lastIndexOf('.');
  return i > 0 ? MIME[name.slice(i + 1).toLowerCase()] : undefined;
};
/** `report.csv.gz` → `report.csv` (a precompressed file is typed by what it holds). */
const logicalName = (name) => {
  for (const ext of ['.gz', '.gzip', '.zz', '.deflate']) if (name.endsWith(ext) && name.length > ext.length) return name.slice(0, -ext.length);
  return name;
};
/** JSON when the whole body parses (strict UTF-8), or, past the window, when it opens { or [. */
function looksLikeJson(head, complete) {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let text;
  try { text = decoder.decode(head, { stream: !complete }); } catch { return false; }
  if (complete) {
    if (head.length === 0) return false;
    try { JSON.parse(text); return true; } catch { return false; }
  }
  const first = text.match(/^[ \t\r\n]*(.)/s)?.[1];
  return first === '{' || first === '[';
}

/** Reads up to SNIFF + 1 bytes of an async iterator: `{head, complete, rest}`. */
async function readHead(iter) {
  const parts = [];
  let n = 0;
  while (n <= SNIFF) {
    const { value, done } = await iter.next();
    if (done) return { head: Buffer.concat(parts), complete: true, rest: undefined };
    parts.push(value);
    n += value.length;
  }
  return { head: Buffer.concat(parts), complete: false, rest: iter };
}

async function* chain(head, rest) {
  if (head.length) yield head;
  if (rest) for await (const c of { [Symbol.asyncIterator]: () => rest }) yield c;
}

const num = (v, flag) => {
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) throw usage(`${flag} expects a non-negative integer, got ${JSON.stringify(v)}`);
  return BigInt(v);
};

function parseRange(s) {
  let m;
  if ((m = /^([0-9]+)-([0-9]+)$/.exec(s))) {
    if (BigInt(m[2]) < BigInt(m[1])) throw new CliError('invalid-argument', `invalid range ${JSON.stringify(s)}: end before start`);
    return { start: m[1], end: m[2] };
  }
  if ((m = /^([0-9]+)-$/.exec(s))) return { start: m[1] };
  if ((m = /^-([0-9]+)$/.exec(s))) return { suffix: m[1] };
  throw new CliError('invalid-argument', `invalid range ${JSON.stringify(s)} (expected START-END, START- or -N)`);
}

const oneOf = (v, flag, allowed) => {
  if (v !== undefined && !allowed.includes(v)) throw usage(`${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v;
};

async function write(text) {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

const COMMANDS = {
  put: {
    options: {
      bucket: { type: 'string' }, name: { type: 'string' }, 'content-type': { type: 'string', default: 'auto' },
      compression: { type: 'string' }, precompressed: { type: 'boolean' }, 'created-by': { type: 'string' },
      'if-exists': { type: 'string' }, store: { type: 'string' }, 'execution-id': { type: 'string' },
      step: { type: 'string' }, scope: { type: 'string' }, ttl: { type: 'string' }, temp: { type: 'boolean' },
      'max-bytes': { type: 'string' },
    },
    async run(store, [file, ...extra], o) {
      if (file === undefined || extra.length) throw usage('put takes one FILE (or - for stdin)');
      const stdin = file === '-';
      let input;
      if (stdin) input = process.stdin;
      else {
        let st;
        try { st = fs.statSync(file); } catch (e) { throw new CliError('io', `cannot read ${file}: ${e.message}`); }
        if (st.isDirectory()) throw new CliError('io', `cannot read ${file}: it is a directory`);
        input = fs.createReadStream(file, { highWaterMark: 1 << 20 });
      }
      let name = stdin ? undefined : path.basename(file);
      if (name && o.precompressed) name = logicalName(name);
      let contentType = o['content-type'];
      let body = input;
      if (contentType === 'auto') {
        contentType = name && byName(name);
        if (!contentType) {
          const { head, complete, rest } = await readHead(input[Symbol.asyncIterator]());
          contentType = looksLikeJson(head, complete) ? 'application/json' : 'application/octet-stream';
          body = chain(head, rest);
        }
      }
      const put = await store.putStream(body, {
        contentType,
        compression: oneOf(o.compression, '--compression', ['none', 'gzip', 'deflate']),
        precompressed: o.precompressed || undefined,
        bucket: o.bucket,
        name: o.name,
        ifExists: oneOf(o['if-exists'] === 'skip' ? 'get' : o['if-exists'], '--if-exists', ['get', 'overwrite', 'fail']),
        createdBy: o['created-by'],
        store: o.store,
        executionId: o['execution-id'],
        step: o.step,
        scope: oneOf(o.scope, '--scope', ['step', 'execution', 'workflow', 'permanent']),
        ttl: o.ttl,
        kind: o.temp ? 'temp-ref' : undefined,
        maxBytes: num(o['max-bytes'], '--max-bytes'),
      });
      await write(`${putJson(put)}\n`);
    },
  },
  get: {
    options: {
      mode: { type: 'string', default: 'json' }, range: { type: 'string' }, 'max-bytes': { type: 'string' },
      output: { type: 'string', short: 'o' },
    },
    async run(store, [ref, ...extra], o) {
      if (ref === undefined || extra.length) throw usage('get takes one REF');
      const options = {
        mode: oneOf(o.mode, '--mode', ['json', 'text', 'bytes']),
        range: o.range === undefined ? undefined : toRange(parseRange(o.range)),
        maxBytes: num(o['max-bytes'], '--max-bytes'),
      };
      if (options.mode === 'bytes') {
        if (o.output) return writeAtomically(o.output, (fd) => { for (const c of store.read(ref, options)) fs.writeSync(fd, c); });
        for (const c of store.read(ref, options)) await write(c);
        return undefined;
      }
      const text = `${getJson(store.get(ref, options))}\n`;
      if (o.output) return writeAtomically(o.output, (fd) => fs.writeSync(fd, text));
      return write(text);
    },
  },
  head: {
    options: {},
    async run(store, [ref, ...extra]) {
      if (ref === undefined || extra.length) throw usage('head takes one REF');
      await write(`${headJson(store.head(ref))}\n`);
    },
  },
  ls: {
    options: {
      bucket: { type: 'string' }, prefix: { type: 'string' }, name: { type: 'string' }, 'created-by': { type: 'string' },
      newest: { type: 'boolean' }, limit: { type: 'string', default: '100' }, cursor: { type: 'string' },
      all: { type: 'boolean' }, json: { type: 'boolean' },
    },
    async run(store, [bucket, ...extra], o) {
      if (extra.length) throw usage('ls takes at most one BUCKET');
      if (bucket !== undefined && o.bucket !== undefined && bucket !== o.bucket) throw usage('two different buckets given');
      const limit = Number(num(o.limit, '--limit'));
      if (limit === 0) throw new CliError('invalid-argument', '--limit must be at least 1');
      const q = {
        bucket: bucket ?? o.bucket, name: o.name, namePrefix: o.prefix, createdBy: o['created-by'],
        order: o.newest ? 'newest-first' : 'oldest-first', limit: Math.min(limit, 2 ** 32 - 1), cursor: o.cursor,
      };
      for (;;) {
        const page = store.list(q);
        for (const r of page.records) await write(`${JSON.stringify(recordJson(r))}\n`);
        if (page.nextCursor === undefined) break;
        if (!o.all) { await write(`${JSON.stringify({ next_cursor: page.nextCursor })}\n`); break; }
        q.cursor = page.nextCursor;
      }
    },
  },
};

/** Writes through a temp file beside `file`, renamed into place only on success. */
function writeAtomically(file, f) {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.artifact-tmp-${process.pid}`);
  let fd;
  try { fd = fs.openSync(tmp, 'w'); } catch (e) { throw new CliError('io', `${tmp}: ${e.message}`); }
  try {
    f(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    try { fs.unlinkSync(tmp); } catch {}
    if (e instanceof Error && 'code' in e && typeof e.code === 'string' && !(e instanceof ArtifactError)) throw new CliError('io', `${file}: ${e.message}`);
    throw e;
  }
}

async function main(argv = process.argv.slice(2)) {
  let store;
  try {
    const global = [];
    while (argv[0] === '--home' || argv[0]?.startsWith('--home=')) {
      if (argv[0] === '--home') { global.push(argv[1]); argv = argv.slice(2); } else { global.push(argv[0].slice(7)); argv = argv.slice(1); }
    }
    const [cmd, ...rest] = argv;
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      await write(`${USAGE}\n`);
      return cmd === undefined ? 2 : 0;
    }
    const c = COMMANDS[cmd];
    if (!c) throw usage(`unknown command ${JSON.stringify(cmd)} (see artifact-store --help)`);
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: { ...c.options, home: { type: 'string' } }, allowPositionals: true, strict: true });
    } catch (e) { throw usage(e.message); }
    // The Rust CLI would put the store elsewhere: refuse rather than open another one.
    for (const v of ['ARTIFACT_STORAGE', 'ARTIFACT_METADATA']) {
      if (process.env[v]) throw usage(`${v} is set: artifact-store opens only the default store of a home (objects/ and metadata.db); unset it or use the Rust CLI`);
    }
    const home = parsed.values.home ?? global.at(-1);
    if (home === '') throw usage('--home needs a directory');
    store = await homeStore(home ?? defaultHome());
    await c.run(store, parsed.positionals, parsed.values);
    return 0;
  } catch (e) {
    // Node's system errors (a file, the home directory): the Rust CLI's `io` kind.
    const kind = e instanceof ArtifactError || e instanceof CliError ? e.kind
      : (e instanceof Error && typeof e.code === 'string' && typeof e.syscall === 'string' ? 'io' : undefined);
    if (kind === undefined) throw e;
    await write(`${JSON.stringify({ error: { kind, message: e.message }, status: 'error' })}\n`).catch(() => {});
    process.stderr.write(`artifact-store: ${kind} error: ${e.message}\n`);
    return exitCode(kind);
  } finally {
    store?.close();
  }
}

process.exitCode = await main();

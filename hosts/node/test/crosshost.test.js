// One ARTIFACT_HOME shared with the Rust `artifact` CLI: each side reads what the other wrote,
// and `artifact-store` prints byte for byte what `artifact` prints for the same commands. Runs
// when a Rust CLI is at $ARTIFACT_CLI or ../../target/{bin,release,debug}/artifact; required
// (a failure, not a skip) with ARTIFACT_REQUIRE_PACKAGES=1, as in scripts/test.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { homeStore, headJson } from '../index.js';
import { repo } from './util.js';

const rust = [process.env.ARTIFACT_CLI, ...['bin', 'release', 'debug'].map((p) => path.join(repo, 'target', p, 'artifact'))]
  .find((p) => p && fs.existsSync(p));
const nodeBin = path.join(repo, 'hosts/node/bin/artifact-store.js');

test('cross-host: a home shared with the Rust CLI, the same JSON from both CLIs', { skip: !rust && !process.env.ARTIFACT_REQUIRE_PACKAGES && 'no Rust CLI (set ARTIFACT_CLI or build target/debug/artifact)' }, async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'artifact-node-xhost-'));
  try {
    // The Rust CLI's compiled code is kept between runs (a debug build compiles for ~15 s).
    const env = { ...process.env, ARTIFACT_HOME: home, ARTIFACT_CACHE_DIR: path.join(os.tmpdir(), 'artifact-node-crosshost-cache') };
    const run = (cmd, args) => {
      const r = spawnSync(cmd[0], [...cmd.slice(1), ...args], { env, encoding: 'utf8' });
      return { out: r.stdout, code: r.status };
    };
    const A = (...a) => run([rust, '--quiet'], a);
    const N = (...a) => run([process.execPath, nodeBin], a);
    const file = path.join(home, '..', `${path.basename(home)}.json`);
    fs.writeFileSync(file, '{"k": [1, 2.50], "z": "é"}');
    try {
      assert.equal(A('put', file, '--bucket', 'x', '--name', 'rust', '--ttl', '2h', '--created-by', 'r').code, 0);
      assert.equal(N('put', file, '--bucket', 'x', '--name', 'node', '--ttl', '2h', '--created-by', 'n', '--compression', 'gzip').code, 0);
    } finally { fs.rmSync(file); }
    for (const args of [['head', 'x/rust'], ['get', 'x/node'], ['get', 'x/node', '--mode', 'text'],
      ['get', 'x/rust', '--mode', 'bytes', '--range', '2-5'], ['ls', 'x', '--json'], ['head', 'x/missing'], ['get', 'Bad Ref']]) {
      const [a, n] = [A(...args), N(...args)];
      assert.equal(n.out, a.out, args.join(' '));
      assert.equal(n.code, a.code, `exit code of ${args.join(' ')}`);
    }
    // The library too; and get-or-create across hosts returns the other host's artifact.
    const s = await homeStore(home);
    assert.equal(`${headJson(s.head('x/rust'))}\n`, A('head', 'x/rust').out);
    assert.equal(s.put('{}', { bucket: 'x', name: 'rust' }).created, false);
    s.close();
    assert.equal(JSON.parse(A('put', '-', '--bucket', 'x', '--name', 'node').out ?? '{}').created ?? false, false);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});

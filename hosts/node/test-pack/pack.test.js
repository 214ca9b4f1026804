// The npm package, as a user gets it: `npm pack` (prepack transpiles), then `npm install` of the
// tarball into an empty project outside the repository (better-sqlite3 builds or downloads its
// binary there), then put / get / head / ls through the library and the `artifact-store` bin on
// one ARTIFACT_HOME, with no ARTIFACT_WASM and no cargo: nothing may reach back into the repo.
// Slow (an install; minutes when better-sqlite3 compiles): `npm run test:pack`, not `npm test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repo = path.resolve(pkg, '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The environment of a user's shell: no npm-run variables, no ARTIFACT_* of ours. */
function userEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k.startsWith('ARTIFACT_')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

test('pack: npm pack → npm install in an empty project → library and bin on one home', { timeout: 15 * 60_000 }, () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'artifact-store-pack-'));
  try {
    const out = path.join(scratch, 'out');
    const proj = path.join(scratch, 'project');
    const home = path.join(scratch, 'home');
    fs.mkdirSync(out);
    fs.mkdirSync(proj);
    assert.ok(!proj.startsWith(repo + path.sep), 'the project is outside the repository');

    // Pack (prepack = build.js: it takes $ARTIFACT_WASM, else builds with cargo).
    const packEnv = { ...userEnv(), ...(process.env.ARTIFACT_WASM ? { ARTIFACT_WASM: process.env.ARTIFACT_WASM } : {}) };
    execFileSync(npm, ['pack', '--pack-destination', out], { cwd: pkg, env: packEnv, stdio: ['ignore', 'ignore', 'inherit'] });
    const tgz = path.join(out, 'artifact-store-0.1.0.tgz');
    const files = execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, ''));
    for (const f of ['package.json', 'README.md', 'index.js', 'index.d.ts', 'imports.js', 'backends/sqlite.js', 'backends/cursor.js',
      'bin/artifact-store.js', 'gen/artifact.js', 'gen/artifact.core.wasm', 'gen/schema.sql', 'gen/interfaces/artifact-store-types.d.ts']) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    for (const f of files) assert.ok(!/^(test|test-pack|node_modules)\/|^build\.js$|^bench\.js$/.test(f), `${f} is not shipped`);

    // Install into an empty project, as a user would.
    fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const env = userEnv({ ARTIFACT_HOME: home });
    execFileSync(npm, ['install', '--no-audit', '--no-fund', tgz], { cwd: proj, env, stdio: ['ignore', 'ignore', 'inherit'] });
    const installed = path.join(proj, 'node_modules', 'artifact-store');
    assert.equal(fs.readFileSync(path.join(installed, 'gen', 'schema.sql'), 'utf8'),
      fs.readFileSync(path.join(repo, 'host/src/metadata/schema.sql'), 'utf8'));

    // The library.
    fs.writeFileSync(path.join(proj, 'lib.mjs'), `
      import { homeStore, headJson, ArtifactError } from 'artifact-store';
      const s = await homeStore();
      const op = process.argv[2];
      if (op === 'put') console.log(JSON.stringify({ id: s.put('{"from":"lib"}', { bucket: 'pk', name: 'lib' }).record.id }));
      else if (op === 'get') console.log(s.get(process.argv[3]).data.val);
      else if (op === 'head') console.log(headJson(s.head(process.argv[3])));
      else if (op === 'missing') { try { s.head('pk/missing'); } catch (e) { console.log(e instanceof ArtifactError, e.kind); } }
      s.close();
    `);
    const lib = (...args) => execFileSync(process.execPath, ['lib.mjs', ...args], { cwd: proj, env, encoding: 'utf8' }).trim();
    const bin = (...args) => execFileSync(path.join(proj, 'node_modules', '.bin', 'artifact-store'), args, { cwd: proj, env, encoding: 'utf8', stdio: 'pipe' }).trim();

    const { id } = JSON.parse(lib('put'));
    assert.equal(lib('get', 'pk/lib'), '{"from":"lib"}');
    assert.equal(lib('missing'), 'true not-found');
    fs.writeFileSync(path.join(proj, 'data.json'), '{"from":"bin"}');
    const put = JSON.parse(bin('put', 'data.json', '--bucket', 'pk', '--name', 'bin'));
    assert.equal(put.created, true);
    assert.equal(put.meta.content_type, 'application/json');
    // Each side reads what the other wrote, and both print the same head line.
    assert.equal(lib('get', 'pk/bin'), '{"from":"bin"}');
    assert.equal(JSON.parse(bin('get', 'pk/lib')).data.from, 'lib');
    assert.equal(bin('head', id), lib('head', 'pk/lib'));
    assert.equal(bin('head', 'pk/bin'), lib('head', put.meta.id));
    assert.deepEqual(bin('ls', 'pk').split('\n').map((l) => JSON.parse(l).name).sort(), ['bin', 'lib']);
    assert.equal(bin('get', 'pk/bin', '--mode', 'bytes'), '{"from":"bin"}');
    try {
      bin('head', 'pk/missing');
      assert.fail('head of a missing artifact succeeded');
    } catch (e) {
      assert.equal(e.status, 3);
      assert.deepEqual(JSON.parse(e.stdout), { error: { kind: 'not-found', message: 'no artifact for pk/missing' }, status: 'error' });
      assert.match(e.stderr, /not-found error/);
    }
    assert.ok(fs.existsSync(path.join(home, 'metadata.db')) && fs.existsSync(path.join(home, 'objects', 'blobs')));

    // The declarations resolve through the exports map (tsc of this repository's devDependency).
    const tsc = path.join(pkg, 'node_modules', 'typescript', 'bin', 'tsc');
    if (fs.existsSync(tsc)) {
      fs.writeFileSync(path.join(proj, 'use.ts'), `
        import { homeStore, type ArtifactRecord, type ErrorKind } from 'artifact-store';
        const s = await homeStore();
        const r: ArtifactRecord = s.head('pk/lib');
        const n: bigint = r.bytes;
        const k: ErrorKind = 'not-found';
        export { n, k };
      `);
      fs.writeFileSync(path.join(proj, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022'], types: [] },
        files: ['use.ts'],
      }));
      try {
        execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: proj, env, encoding: 'utf8', stdio: 'pipe' });
      } catch (e) { assert.fail(`tsc in the consumer project:\n${e.stdout}${e.stderr}`); }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});

// Transpiles the component with jco into gen/ (skipped when gen/ was made from the same .wasm)
// and copies the SQLite schema (host/src/metadata/schema.sql, its one home) to gen/schema.sql, so
// the package (`npm pack` runs this as `prepack`) needs neither cargo nor the repository.
// The .wasm is $ARTIFACT_WASM, else ../../target/guest/wasm32-wasip2/guest/artifact_component.wasm,
// built with cargo first (unless $ARTIFACT_NO_CARGO is set).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { transpileBytes } from '@bytecodealliance/jco-transpile'; // the transpiler behind `jco transpile`

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const gen = path.join(here, 'gen');
const wasm = process.env.ARTIFACT_WASM
  ?? path.join(repo, 'target/guest/wasm32-wasip2/guest/artifact_component.wasm');

if (!process.env.ARTIFACT_WASM && !process.env.ARTIFACT_NO_CARGO) {
  // Cheap when up to date; keeps gen/ in step with src/.
  execFileSync('cargo', ['build', '--profile', 'guest', '--locked', '--target', 'wasm32-wasip2', '-p', 'artifact-component',
    '--lib', '--target-dir', 'target/guest'], { cwd: repo, stdio: 'inherit' });
}
const schema = path.join(repo, 'host/src/metadata/schema.sql');
/** gen/schema.sql := the repository's schema (rewritten only when it differs). */
function copySchema() {
  const text = fs.readFileSync(schema);
  const to = path.join(gen, 'schema.sql');
  if (!fs.existsSync(to) || !fs.readFileSync(to).equals(text)) {
    fs.mkdirSync(gen, { recursive: true });
    fs.writeFileSync(to, text);
  }
}

const bytes = fs.readFileSync(wasm);
const hash = createHash('sha256').update(bytes).digest('hex');
const stamp = path.join(gen, 'SOURCE_SHA256');
if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash) {
  copySchema();
  process.exit(0);
}

const { files } = await transpileBytes(bytes, {
  name: 'artifact',
  instantiation: 'async',
  // Our interfaces become import keys './storage.js' / './metadata.js'; index.js supplies one
  // object per store (in-memory or node:fs) at instantiation time.
  map: {
    'artifact:store/storage': './storage.js',
    'artifact:store/metadata': './metadata.js',
    'artifact:store/types': './types.js',
    'wasi:config/store': './config.js',
  },
  // Export errors arrive as ComponentError with `.payload = {tag, val}` (as with the jco CLI).
  noComponentErrorWrapping: false,
  quiet: true,
});
fs.rmSync(gen, { recursive: true, force: true });
for (let [name, data] of Object.entries(files)) {
  // jco-transpile 0.15 declares a renamed export (`export { _delete as delete }`) as a bare
  // `function _delete(…);`, which tsc refuses in a .d.ts (TS1046): make it `declare function`.
  if (name.endsWith('.d.ts')) data = Buffer.from(Buffer.from(data).toString('utf8').replace(/^function /gm, 'declare function '));
  fs.mkdirSync(path.dirname(path.join(gen, name)), { recursive: true });
  fs.writeFileSync(path.join(gen, name), data);
}
fs.writeFileSync(stamp, hash);
copySchema();
console.error(`transpiled ${path.relative(repo, wasm)} (${bytes.length} bytes) into hosts/node/gen/`);

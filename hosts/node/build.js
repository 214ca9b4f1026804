// Transpiles the component with jco into gen/ (skipped when gen/ was made from the same .wasm).
// The .wasm is $ARTIFACT_WASM, else ../../target/guest/wasm32-wasip2/guest/artifact_component.wasm,
// built with cargo when missing.
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
const bytes = fs.readFileSync(wasm);
const hash = createHash('sha256').update(bytes).digest('hex');
const stamp = path.join(gen, 'SOURCE_SHA256');
if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash) process.exit(0);

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
for (const [name, data] of Object.entries(files)) {
  fs.mkdirSync(path.dirname(path.join(gen, name)), { recursive: true });
  fs.writeFileSync(path.join(gen, name), data);
}
fs.writeFileSync(stamp, hash);
console.error(`transpiled ${path.relative(repo, wasm)} (${bytes.length} bytes) into hosts/node/gen/`);

// node build.mjs OUT.wasm: the JS plugin as a component (componentize-js from npm, installed by
// `bash scripts/deps.sh plugins` into target/plugins/js).
import { componentize } from '@bytecodealliance/componentize-js';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const { component } = await componentize({
  sourcePath: here('./app.js'),
  witPath: here('../../../wit'),
  worldName: 'artifact:store/plugin',
  disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
});
await writeFile(process.argv[2], component);

// index.d.ts (and the jco-generated WIT types it refers to) compile: tsc --noEmit over a program
// that uses the public API (test/types/usage.ts). Skipped when the typescript devDependency is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsc = path.join(here, '..', 'node_modules', 'typescript', 'bin', 'tsc');

test('types: index.d.ts type-checks a use of the API (tsc --noEmit, strict)', { skip: !fs.existsSync(tsc) && 'typescript is not installed' }, () => {
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(here, 'types', 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    assert.fail(`tsc:\n${e.stdout}${e.stderr}`);
  }
});

#!/usr/bin/env node
// Compiles lib/ twice: ESM (dist/esm, the package's "import") and CJS (dist/cjs, "require"),
// each with .d.ts. The CJS folder gets its own package.json so Node reads its .js as CommonJS.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  console.error('build-ts: typescript is not installed; run `npm install` in the package root first');
  process.exit(1);
}
const run = (extra) => {
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json'), ...extra], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
run([]);
run(['--module', 'CommonJS', '--moduleResolution', 'Node10', '--outDir', join(root, 'dist/cjs')]);
mkdirSync(join(root, 'dist/cjs'), { recursive: true });
writeFileSync(join(root, 'dist/cjs/package.json'), '{ "type": "commonjs" }\n');
const cli = join(root, 'dist/esm/cli/cli.js');
if (existsSync(cli)) chmodSync(cli, 0o755);

#!/usr/bin/env node
// `npm run prebuild`: prebuilt addons for this platform, one per variant, in
// prebuilds/<platform>-<arch>/alpamayo_trt.<variant>.node. prebuildify drives node-gyp, whose only
// target (binding.gyp) runs CMake through scripts/build-native.mjs with ALPAMAYO_VARIANT set, so the
// prebuilds are the same build as `npm install`. lib/native.ts picks cuda when a driver is present,
// else cpu; node-gyp-build (the install step) loads either without a compiler.
//   --variants cpu,cuda   which variants (default both; cuda is skipped with a message without nvcc)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--variants');
const variants = (i >= 0 ? process.argv[i + 1] : 'cpu,cuda').split(',');
const platformDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const hasNvcc = spawnSync('nvcc', ['--version']).status === 0;
const env = { ...process.env };
// Build against the running Node's headers when the distribution ships them: nothing is downloaded.
if (!env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';

mkdirSync(platformDir, { recursive: true });
for (const variant of variants) {
  if (variant === 'cuda' && !hasNvcc) {
    console.log('prebuild: skipping the cuda variant (nvcc not found)');
    continue;
  }
  const out = join(root, 'build-prebuild', variant);
  rmSync(out, { recursive: true, force: true });
  const r = spawnSync(process.execPath,
    [join(root, 'node_modules', 'prebuildify', 'bin.js'), '--napi', '--strip', '--target', process.versions.node, '--out', out],
    { cwd: root, stdio: 'inherit', env: { ...env, ALPAMAYO_VARIANT: variant } });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const built = readdirSync(join(out, 'prebuilds', `${process.platform}-${process.arch}`)).filter((f) => f.endsWith('.node'));
  if (built.length !== 1) throw new Error(`prebuild: expected one addon for ${variant}, found ${built.join(', ')}`);
  const dest = join(platformDir, `alpamayo_trt.${variant}.node`);
  renameSync(join(out, 'prebuilds', `${process.platform}-${process.arch}`, built[0]), dest);
  console.log(`prebuild: ${dest}`);
}

#!/usr/bin/env node
// `npm run prebuild`: the prebuilt addons that ship inside the npm tarball, one per variant, in
// prebuilds/<platform>-<arch>/alpamayo_trt.<variant>.node (the layout prebuildify uses). lib/native.ts
// and scripts/install.mjs pick cuda when an NVIDIA driver is present, else cpu.
// prebuildify drives the build (node-gyp -> binding.gyp -> CMake). Each is built portable (static libstdc++/libgcc, static cudart, no cuBLASLt, no TensorRT),
// stripped, and checked: it may need only the C library at load time, and it must load here.
//   --variants cpu,cuda   which variants (default both; cuda is skipped with a message without nvcc)
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const env = { ...process.env };
// node-gyp builds against the running Node's headers when the distribution ships them: nothing is downloaded.
if (!env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
const i = process.argv.indexOf('--variants');
const variants = (i >= 0 ? process.argv[i + 1] : 'cpu,cuda').split(',');
const platformDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const hasNvcc = spawnSync('nvcc', ['--version']).status === 0;
// Everything a glibc Linux has; libcuda is not here: static cudart opens it with dlopen at run time.
const ALLOWED = /^(libc|libm|libdl|libpthread|librt|ld-linux[-\w]*)\.so(\.\d+)*$/;

mkdirSync(platformDir, { recursive: true });
// node-gyp (under prebuildify) starts by deleting build/, where the development addon and native tests
// live: keep them aside and put them back at exit.
const keep = join(root, 'build', 'Release');
const kept = join(root, 'build-prebuild-kept-Release');
if (existsSync(keep)) {
  rmSync(kept, { recursive: true, force: true });
  renameSync(keep, kept);
  process.on('exit', () => {
    rmSync(join(root, 'build'), { recursive: true, force: true });
    mkdirSync(join(root, 'build'), { recursive: true });
    renameSync(kept, keep);
  });
}
for (const variant of variants) {
  if (variant === 'cuda' && !hasNvcc) {
    console.log('prebuild: skipping the cuda variant (nvcc not found)');
    continue;
  }
  // prebuildify -> node-gyp -> binding.gyp -> scripts/build-native.mjs (addon only, ALPAMAYO_PORTABLE).
  const out = join(root, 'build-prebuild', variant);
  rmSync(out, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [require.resolve('prebuildify/bin.js'), '--napi', '--target', process.versions.node, '--out', out], {
    cwd: root,
    stdio: 'inherit',
    env: { ...env, ALPAMAYO_VARIANT: variant, ALPAMAYO_PORTABLE: '1' },
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const builtDir = join(out, 'prebuilds', `${process.platform}-${process.arch}`);
  const built = readdirSync(builtDir).filter((f) => f.endsWith('.node'));
  if (built.length !== 1) throw new Error(`prebuild: expected one addon for ${variant}, found ${built.join(', ')}`);
  const dest = join(platformDir, `alpamayo_trt.${variant}.node`);
  copyFileSync(join(builtDir, built[0]), `${dest}.tmp`);
  const strip = spawnSync('strip', ['--strip-unneeded', `${dest}.tmp`], { stdio: 'inherit' });
  if (strip.status !== 0) throw new Error(`prebuild: strip failed on ${dest}.tmp`);
  const needed = [...spawnSync('readelf', ['-d', `${dest}.tmp`], { encoding: 'utf8' }).stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const extra = needed.filter((n) => !ALLOWED.test(n));
  if (extra.length) throw new Error(`prebuild: ${variant} needs ${extra.join(', ')} at load time; a prebuilt binary may need only the C library`);
  const probe = spawnSync(process.execPath, ['-e', `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(`${dest}.tmp`)}); console.log(JSON.stringify(m.exports.backends()))`], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`prebuild: ${variant} does not load: ${probe.stderr}`);
  renameSync(`${dest}.tmp`, dest);
  console.log(`prebuild: ${dest} (${(statSync(dest).size / 2 ** 20).toFixed(1)} MB, needs ${needed.join(' ')}) backends ${probe.stdout.trim()}`);
}

#!/usr/bin/env node
// Builds the addon from CMakeLists.txt with cmake-js and copies it to --out (default build/Release),
// where lib/native.ts looks for it. Used by `npm run build:native` (a checkout: addon + native unit
// tests, incremental build dir), by scripts/install.mjs (an installed package without a matching
// prebuild: addon only, scratch build dir removed afterwards) and by scripts/prebuild.mjs.
//   --out DIR         where alpamayo_trt.node (and alpamayo_native_tests) go
//   --variant V       cpu | cuda | auto (default $ALPAMAYO_VARIANT or auto: CUDA when nvcc is found)
//   --addon-only      build only the addon target, not the native unit tests
//   --temp            build in a fresh folder under the OS temp dir and delete it afterwards
//   --build-dir DIR   CMake binary dir (default build-cmake[-variant])
//   --sanitize        ASan/UBSan build of everything (native tests)
//   --portable        prebuild settings: static libstdc++/libgcc, no cuBLASLt (see scripts/prebuild.mjs)
// Environment: ALPAMAYO_VARIANT, TENSORRT_ROOT, ALPAMAYO_CUDA_ARCHS (e.g. "90"), ALPAMAYO_NVIDIA_WHEELS
// (site-packages/nvidia with the nvidia-cublas / nvidia-cudnn-cu13 wheels; else found via ALPAMAYO_PYTHON).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const log = (msg) => console.log(`alpamayo-trt build: ${msg}`);
const fail = (msg) => {
  console.error(`alpamayo-trt build: ${msg}`);
  process.exit(1);
};

const variant = opt('--variant', process.env.ALPAMAYO_VARIANT || 'auto');
if (!['cpu', 'cuda', 'auto'].includes(variant)) fail(`unknown --variant ${variant} (expected cpu, cuda or auto)`);
const addonOnly = args.includes('--addon-only') || !existsSync(join(root, 'native', 'tests'));
const temp = args.includes('--temp');
const out = resolve(root, opt('--out', 'build/Release'));
const buildDir = temp
  ? mkdtempSync(join(tmpdir(), 'alpamayo-trt-build-'))
  : resolve(root, opt('--build-dir', variant === 'auto' ? 'build-cmake' : `build-cmake-${variant}`));

// Build tools by module resolution, not by a path inside this package: npm hoists dependencies to
// the app's node_modules, so cmake-js is rarely at <package>/node_modules/cmake-js in an install.
const require = createRequire(import.meta.url);
let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
} catch {
  fail('cmake-js is not installed (it is a dependency of alpamayo-trt; run `npm install` first)');
}

const defs = [];
if (variant === 'cpu') defs.push('--CDALPAMAYO_CUDA=OFF', '--CDALPAMAYO_TENSORRT=OFF');
else if (variant === 'cuda') defs.push('--CDALPAMAYO_CUDA=ON');
if (args.includes('--sanitize')) defs.push('--CDALPAMAYO_SANITIZE=ON');
if (addonOnly) defs.push('--CDALPAMAYO_BUILD_TESTS=OFF');
// ALPAMAYO_PORTABLE=1 is how scripts/prebuild.mjs asks for it through prebuildify -> node-gyp -> binding.gyp.
if (args.includes('--portable') || process.env.ALPAMAYO_PORTABLE === '1') {
  // A prebuilt binary may need nothing the user lacks: no libstdc++ newer than theirs, no cuBLASLt.
  defs.push('--CDCMAKE_SHARED_LINKER_FLAGS=-static-libstdc++ -static-libgcc', '--CDALPAMAYO_CUBLASLT=OFF', '--CDALPAMAYO_TENSORRT=OFF');
}
if (process.env.TENSORRT_ROOT) defs.push(`--CDTENSORRT_ROOT=${process.env.TENSORRT_ROOT}`);
// CUDA builds: architectures (default 80;89;90; the GPU check builds 90 only) and the folder of the
// NVIDIA pip wheels with cuBLASLt/cuDNN headers (given, or asked of ALPAMAYO_PYTHON's environment).
if (process.env.ALPAMAYO_CUDA_ARCHS) defs.push(`--CDALPAMAYO_CUDA_ARCHS=${process.env.ALPAMAYO_CUDA_ARCHS}`);
if (variant !== 'cpu') {
  const wheels = process.env.ALPAMAYO_NVIDIA_WHEELS ?? nvidiaWheelsOf(process.env.ALPAMAYO_PYTHON);
  if (wheels) defs.push(`--CDALPAMAYO_NVIDIA_WHEELS=${wheels}`);
}

// site-packages/nvidia of a Python environment (the namespace package the nvidia-* wheels install
// into), or undefined when there is none.
function nvidiaWheelsOf(python) {
  if (!python) return undefined;
  const r = spawnSync(python, ['-c', 'import nvidia, sys; sys.stdout.write(list(nvidia.__path__)[0])'], {
    encoding: 'utf8',
  });
  return r.status === 0 && r.stdout ? r.stdout : undefined;
}

const jobs = String(Math.max(1, availableParallelism()));
const cmakeArgs = ['build', '-d', root, '-O', buildDir, '-p', jobs, '-m', ...defs];
if (addonOnly) cmakeArgs.push('--target', 'alpamayo_trt');
log(`variant ${variant}, ${addonOnly ? 'addon only' : 'addon + native unit tests'}, ${jobs} jobs`);
log(`build dir ${buildDir}${temp ? ' (temporary)' : ''}, output ${out}`);
log(`cmake-js ${cmakeArgs.join(' ')}`);
try {
  const r = spawnSync(process.execPath, [cmakeJs, ...cmakeArgs], { stdio: 'inherit' });
  if (r.status !== 0) {
    // Not fail(): process.exit would skip the finally that removes a temporary build dir.
    throw new Error(`cmake-js failed (exit ${r.status ?? r.signal}); see the output above. Needs cmake >= 3.25 and a C++20 compiler (nvcc for CUDA).`);
  }
  mkdirSync(out, { recursive: true });
  // Copy then rename: a new inode, so processes that still have the old binary mapped keep running
  // (overwriting it in place makes them die with SIGBUS).
  for (const name of addonOnly ? ['alpamayo_trt.node'] : ['alpamayo_trt.node', 'alpamayo_native_tests']) {
    const dest = join(out, name);
    copyFileSync(join(buildDir, 'Release', name), `${dest}.tmp`);
    renameSync(`${dest}.tmp`, dest);
  }
  // The TensorRT runner over fake TensorRT/CUDA is built only where the CUDA headers are; a copy left
  // from an earlier build must not stand in for one this build did not make.
  if (!addonOnly) {
    const fakeTests = join(out, 'alpamayo_trt_fake_tests');
    if (existsSync(join(buildDir, 'Release', 'alpamayo_trt_fake_tests'))) {
      copyFileSync(join(buildDir, 'Release', 'alpamayo_trt_fake_tests'), `${fakeTests}.tmp`);
      renameSync(`${fakeTests}.tmp`, fakeTests);
    } else {
      rmSync(fakeTests, { force: true });
    }
  }
  log(`wrote ${join(out, 'alpamayo_trt.node')}`);
} catch (err) {
  console.error(`alpamayo-trt build: ${err.message}`);
  process.exitCode = 1;
} finally {
  if (temp) rmSync(buildDir, { recursive: true, force: true });
}

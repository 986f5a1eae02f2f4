#!/usr/bin/env node
// Builds the addon with cmake-js into build-cmake/ and copies it to --out (default build/Release),
// where node-gyp-build and lib/native.ts look for it. binding.gyp calls this script, so node-gyp,
// prebuildify and `npm run build:native` all produce the same binary from CMakeLists.txt.
//   --out DIR         where alpamayo_trt.node goes
//   --variant V       cpu | cuda | auto (default auto: CUDA when nvcc is found)
//   --sanitize        ASan/UBSan build of everything (native tests)
//   --build-dir DIR   CMake binary dir (default build-cmake[-variant])
// Environment: ALPAMAYO_VARIANT, TENSORRT_ROOT, ALPAMAYO_CUDA_ARCHS (e.g. "90"), ALPAMAYO_NVIDIA_WHEELS
// (site-packages/nvidia with the nvidia-cublas / nvidia-cudnn-cu13 wheels; else found via ALPAMAYO_PYTHON).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const variant = opt('--variant', process.env.ALPAMAYO_VARIANT ?? 'auto');
const out = resolve(root, opt('--out', 'build/Release'));
const buildDir = resolve(root, opt('--build-dir', variant === 'auto' ? 'build-cmake' : `build-cmake-${variant}`));
const defs = [];
if (variant === 'cpu') defs.push('--CDALPAMAYO_CUDA=OFF', '--CDALPAMAYO_TENSORRT=OFF');
else if (variant === 'cuda') defs.push('--CDALPAMAYO_CUDA=ON');
else if (variant !== 'auto') {
  console.error(`build-native: unknown --variant ${variant} (expected cpu, cuda or auto)`);
  process.exit(2);
}
if (args.includes('--sanitize')) defs.push('--CDALPAMAYO_SANITIZE=ON');
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

const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const jobs = String(Math.max(1, availableParallelism()));
const r = spawnSync(process.execPath, [cmakeJs, 'build', '-d', root, '-O', buildDir, '-p', jobs, '-m', ...defs], {
  stdio: 'inherit',
});
if (r.status !== 0) process.exit(r.status ?? 1);
mkdirSync(out, { recursive: true });
// Copy then rename: a new inode, so processes that still have the old binary mapped keep running
// (overwriting it in place makes them die with SIGBUS).
for (const name of ['alpamayo_trt.node', 'alpamayo_native_tests']) {
  const dest = join(out, name);
  copyFileSync(join(buildDir, 'Release', name), `${dest}.tmp`);
  renameSync(`${dest}.tmp`, dest);
}

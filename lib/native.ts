// Finds and loads the native addon, turning every failure into one actionable AlpamayoError
// (the pattern of sharp's lib/sharp.mjs): users must never see a bare dlopen message.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { AlpamayoError } from './AlpamayoError.js';
import type { BackendsInfo, NativeAddon } from './binding.js';
import { currentModuleFile, packageRoot } from './packageRoot.js';

/** Environment variable naming an explicit addon file; it wins over every other location. */
export const NATIVE_PATH_ENV = 'ALPAMAYO_TRT_NATIVE';

/** One place the loader looked, and why it was not used. @internal */
export interface NativeCandidate {
  path: string;
  /** Explicit candidates (the env override) fail loudly instead of falling through. */
  explicit: boolean;
}

const LIBCUDA_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libcuda.so.1',
  '/usr/lib/aarch64-linux-gnu/libcuda.so.1',
  '/usr/lib64/libcuda.so.1',
  '/usr/lib/libcuda.so.1',
  '/usr/lib/wsl/lib/libcuda.so.1',
  '/usr/local/cuda/compat/libcuda.so.1',
];

/** True when an NVIDIA driver looks installed; decides whether GPU prebuilds are tried first. @internal */
export function nvidiaDriverPresent(): boolean {
  return existsSync('/proc/driver/nvidia/version') || LIBCUDA_PATHS.some((p) => existsSync(p));
}

/**
 * Candidate addon files, most specific first: env override, local build, then the prebuilt
 * variants for this platform (GPU variants first only when a driver is present).
 * @internal
 */
export function nativeCandidates(root: string = packageRoot(), env: NodeJS.ProcessEnv = process.env, gpu = nvidiaDriverPresent()): NativeCandidate[] {
  const out: NativeCandidate[] = [];
  const override = env[NATIVE_PATH_ENV];
  if (override) return [{ path: override, explicit: true }];
  out.push({ path: join(root, 'build', 'Release', 'alpamayo_trt.node'), explicit: false });
  const platform = `${process.platform}-${process.arch}`;
  // Without a driver the cuda build still runs the cpu backend (static cudart), so it is a fallback too.
  const variants = gpu ? ['tensorrt', 'cuda', 'cpu'] : ['cpu', 'cuda'];
  for (const v of variants) out.push({ path: join(root, 'prebuilds', platform, `alpamayo_trt.${v}.node`), explicit: false });
  // Last: whatever node-gyp-build resolves for this platform and ABI (its napi/libc tag rules), e.g. a
  // `node-gyp rebuild` output in build/Debug or a prebuildify-named file a packager dropped in prebuilds/.
  const resolved = nodeGypBuildPath(root);
  if (resolved && !out.some((c) => c.path === resolved)) out.push({ path: resolved, explicit: false });
  return out;
}

function nodeGypBuildPath(root: string): string | undefined {
  try {
    const resolve = createRequire(currentModuleFile())('node-gyp-build') as { path(dir: string): string };
    return resolve.path(root);
  } catch {
    return undefined; // nothing for this platform: the candidates above are reported instead
  }
}

/**
 * Loads the first candidate that exists and loads cleanly. Pure apart from `require`, so tests
 * can drive it with their own candidate list.
 * @internal
 */
export function loadNativeFrom(candidates: NativeCandidate[]): { addon: NativeAddon; path: string } {
  const req = createRequire(currentModuleFile());
  const failures: string[] = [];
  for (const c of candidates) {
    if (!c.explicit && !existsSync(c.path)) {
      failures.push(`  ${c.path}: not found`);
      continue;
    }
    try {
      const addon = req(c.path) as NativeAddon;
      if (typeof addon?.backends !== 'function') throw new Error('file does not export backends(); not an alpamayo-trt addon');
      if (typeof addon.setErrorClass === 'function') addon.setErrorClass(AlpamayoError);
      return { addon, path: c.path };
    } catch (err) {
      const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
      failures.push(`  ${c.path}: ${msg}`);
      if (c.explicit) break;
    }
  }
  throw new AlpamayoError(
    'alpamayo-trt could not load its native addon for ' +
      `${process.platform}-${process.arch} (Node ${process.version}). Tried:\n${failures.join('\n')}\n` +
      'Possible fixes:\n' +
      '  - build it from source: `npm rebuild alpamayo-trt` (in an app) or `npm run build:native` (in this repo);\n' +
      '    this needs cmake >= 3.25 and a C++20 compiler, plus nvcc for CUDA and TensorRT for the TensorRT backend\n' +
      `  - or point ${NATIVE_PATH_ENV} at a built alpamayo_trt.node\n` +
      '  - "libcudart/libnvinfer ... cannot open shared object file": install the CUDA/TensorRT runtime the binary was built with, or use the cpu build',
    'BACKEND_UNAVAILABLE',
    { field: 'native', expected: 'a loadable alpamayo_trt.node', actual: failures.map((f) => f.trim()) },
  );
}

let loaded: { addon: NativeAddon; path: string } | undefined;

/** Loads (once) and returns the native addon. Throws AlpamayoError BACKEND_UNAVAILABLE. @internal */
export function loadNative(): NativeAddon {
  loaded ??= loadNativeFrom(nativeCandidates());
  return loaded.addon;
}

/** Absolute path of the addon file that was loaded (loads it if needed). */
export function nativeBinaryPath(): string {
  loadNative();
  return (loaded as { path: string }).path;
}

/**
 * What the native addon can run on this machine: its build variant, CUDA devices and TensorRT version.
 * @throws AlpamayoError `BACKEND_UNAVAILABLE` when no addon binary can be loaded.
 */
export function backends(): BackendsInfo {
  return loadNative().backends();
}

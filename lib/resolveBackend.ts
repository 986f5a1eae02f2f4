import { AlpamayoError } from './AlpamayoError.js';
import type { BackendsInfo, NativeVariant } from './binding.js';

/**
 * Picks the backend for a planner. `auto` = tensorrt when compiled in, an engines dir is given and a
 * GPU exists; else cuda when a device exists; else cpu. An explicit choice that cannot run throws
 * `BACKEND_UNAVAILABLE` (a driving planner silently falling back to CPU is a failure, not a feature).
 * @internal
 */
export function resolveBackend(
  requested: 'auto' | NativeVariant,
  info: BackendsInfo,
  opts: { engines?: string; device: number },
): NativeVariant {
  const gpus = info.cuda.compiled ? info.cuda.devices : 0;
  if (requested === 'auto') {
    if (info.tensorrt.compiled && opts.engines !== undefined && gpus > 0) return 'tensorrt';
    if (gpus > 0) return 'cuda';
    return 'cpu';
  }
  if (requested === 'cpu') return 'cpu';
  const fail = (why: string, fix: string): never => {
    throw new AlpamayoError(`backend '${requested}' is unavailable: ${why}. ${fix}`, 'BACKEND_UNAVAILABLE', {
      field: 'options.backend',
      expected: requested,
      actual: { variant: info.variant, cuda: info.cuda, tensorrt: info.tensorrt },
    });
  };
  if (requested === 'tensorrt' && !info.tensorrt.compiled) {
    fail(`the loaded '${info.variant}' addon was built without TensorRT`, 'Rebuild with TensorRT installed (TENSORRT_ROOT=/path npm run build:native).');
  }
  if (requested === 'tensorrt' && opts.engines === undefined) {
    fail('no engines directory was given', "Pass { engines: '/path/to/engines' } (built with the engine build recipe).");
  }
  if (!info.cuda.compiled) fail(`the loaded '${info.variant}' addon was built without CUDA`, 'Rebuild where nvcc is on PATH (npm run build:native).');
  if (gpus === 0) fail(`no CUDA device is visible${info.cuda.error ? ` (${info.cuda.error})` : ''}`, 'Check the NVIDIA driver and CUDA_VISIBLE_DEVICES.');
  if (opts.device >= gpus) {
    throw new AlpamayoError(`options.device: expected a CUDA device index < ${gpus}, got ${opts.device}`, 'BACKEND_UNAVAILABLE', {
      field: 'options.device',
      expected: `< ${gpus}`,
      actual: opts.device,
    });
  }
  return requested;
}

/** Default precision per backend: what each backend is validated with. @internal */
export function defaultPrecision(backend: NativeVariant): 'fp32' | 'bf16' | 'fp16' {
  return backend === 'tensorrt' ? 'fp16' : backend === 'cuda' ? 'bf16' : 'fp32';
}

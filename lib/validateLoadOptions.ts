import { availableParallelism } from 'node:os';
import type { LoadOptions } from './types.js';
import { checkInteger, checkKnownKeys, invalidInput, isPlainObject } from './validateCommon.js';

const KNOWN: readonly (keyof LoadOptions)[] = ['checkpoint', 'engines', 'backend', 'device', 'precision', 'maxQueue', 'threads', 'maxCommandTokens'];
const BACKENDS = ['auto', 'cpu', 'cuda', 'tensorrt'] as const;
const PRECISIONS = ['fp32', 'bf16', 'fp16', 'fp8'] as const;

/** Default queue bound of a planner. */
export const DEFAULT_MAX_QUEUE = 64;
/** Default bound on the tokens `options.command` may add to the prompt. */
export const DEFAULT_MAX_COMMAND_TOKENS = 256;

/** Load options with defaults applied (precision stays optional: it depends on the resolved backend). @internal */
export interface ResolvedLoadOptions {
  checkpoint: string;
  engines?: string;
  backend: (typeof BACKENDS)[number];
  device: number;
  precision?: (typeof PRECISIONS)[number];
  maxQueue: number;
  threads: number;
  maxCommandTokens: number;
}

/**
 * Checks {@link LoadOptions} and applies defaults.
 * @throws AlpamayoError `INVALID_INPUT` naming the option, e.g. `options.backend`.
 * @internal
 */
export function validateLoadOptions(options: unknown): ResolvedLoadOptions {
  if (!isPlainObject(options)) throw invalidInput('options', 'a load options object { checkpoint, ... }', options);
  checkKnownKeys(options, KNOWN, 'options');
  const o = options as Record<string, unknown>;
  if (typeof o.checkpoint !== 'string' || o.checkpoint === '') {
    throw invalidInput('options.checkpoint', 'a checkpoint directory path (non-empty string)', o.checkpoint);
  }
  const out: ResolvedLoadOptions = {
    checkpoint: o.checkpoint,
    backend: 'auto',
    device: 0,
    maxQueue: DEFAULT_MAX_QUEUE,
    threads: 0,
    maxCommandTokens: DEFAULT_MAX_COMMAND_TOKENS,
  };
  if (o.engines !== undefined) {
    if (typeof o.engines !== 'string' || o.engines === '') throw invalidInput('options.engines', 'an engines directory path (non-empty string)', o.engines);
    out.engines = o.engines;
  }
  if (o.backend !== undefined) {
    if (!(BACKENDS as readonly unknown[]).includes(o.backend)) throw invalidInput('options.backend', `one of ${BACKENDS.join(', ')}`, o.backend);
    out.backend = o.backend as ResolvedLoadOptions['backend'];
  }
  if (o.precision !== undefined) {
    if (!(PRECISIONS as readonly unknown[]).includes(o.precision)) throw invalidInput('options.precision', `one of ${PRECISIONS.join(', ')}`, o.precision);
    out.precision = o.precision as ResolvedLoadOptions['precision'];
  }
  if (o.device !== undefined) out.device = checkInteger('options.device', o.device, 0, Number.MAX_SAFE_INTEGER);
  if (o.maxQueue !== undefined) out.maxQueue = checkInteger('options.maxQueue', o.maxQueue, 0, Number.MAX_SAFE_INTEGER);
  if (o.threads !== undefined) out.threads = checkInteger('options.threads', o.threads, 0, 4096);
  if (out.threads === 0) out.threads = availableParallelism();
  // The upper bound depends on the model's context; Planner.load checks it once the config is known.
  if (o.maxCommandTokens !== undefined) out.maxCommandTokens = checkInteger('options.maxCommandTokens', o.maxCommandTokens, 0, 2 ** 31 - 1);
  return out;
}

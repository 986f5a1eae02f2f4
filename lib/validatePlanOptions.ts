import { randomInt } from 'node:crypto';
import type { PlanOptions } from './types.js';
import { WAYPOINT_COUNT } from './types.js';
import { checkInteger, checkKnownKeys, invalidInput, isDetached, isPlainObject } from './validateCommon.js';

/** Defaults of {@link PlanOptions}, matching the official inference settings. */
export const PLAN_DEFAULTS = {
  samples: 1,
  diffusionSteps: 10,
  maxReasoningTokens: 256,
  temperature: 0.6,
  topP: 0.98,
} as const;

const KNOWN: readonly (keyof PlanOptions)[] = [
  'command',
  'samples',
  'sampleBatch',
  'seed',
  'diffusionSteps',
  'maxReasoningTokens',
  'temperature',
  'topP',
  'initialNoise',
  'reasoningTokens',
  'returnActions',
  'returnTokens',
  'signal',
  'onToken',
  'checkClocks',
  'frameBuffers',
];

/** Largest |value| accepted in `initialNoise` (standard-normal noise; larger values overflow the Euler loop). */
export const MAX_INITIAL_NOISE = 1000;

/** Plan options with defaults applied. @internal */
export interface ResolvedPlanOptions {
  command?: string;
  samples: number;
  sampleBatch?: number;
  seed: number;
  diffusionSteps: number;
  maxReasoningTokens: number;
  temperature: number;
  topP: number;
  initialNoise?: Float32Array;
  reasoningTokens?: string | number[];
  returnActions: boolean;
  returnTokens: boolean;
  signal?: AbortSignal;
  onToken?: (text: string) => unknown;
  checkClocks: boolean;
  frameBuffers: 'copy' | 'transfer';
}

/**
 * Checks plan options (types, ranges, unknown keys) and applies defaults.
 * @throws AlpamayoError `INVALID_INPUT` naming the option, e.g. `options.topP`.
 * @internal
 */
export function validatePlanOptions(options: unknown): ResolvedPlanOptions {
  if (options === undefined) options = {};
  if (!isPlainObject(options)) throw invalidInput('options', 'an options object', options);
  checkKnownKeys(options, KNOWN, 'options');
  const o = options as Record<string, unknown>;
  const pick = <T>(key: string, dflt: T): unknown => (o[key] === undefined ? dflt : o[key]);

  const samples = checkInteger('options.samples', pick('samples', PLAN_DEFAULTS.samples), 1, 16);
  const seed =
    o.seed === undefined ? randomInt(0, 2 ** 32) : checkInteger('options.seed', o.seed, 0, 2 ** 32 - 1);
  const diffusionSteps = checkInteger('options.diffusionSteps', pick('diffusionSteps', PLAN_DEFAULTS.diffusionSteps), 1, 100);
  const maxReasoningTokens = checkInteger(
    'options.maxReasoningTokens',
    pick('maxReasoningTokens', PLAN_DEFAULTS.maxReasoningTokens),
    1,
    4096,
  );
  const temperature = pick('temperature', PLAN_DEFAULTS.temperature);
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0) {
    throw invalidInput('options.temperature', 'a finite number >= 0 (0 = greedy)', temperature);
  }
  const topP = pick('topP', PLAN_DEFAULTS.topP);
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) throw invalidInput('options.topP', 'a number in (0, 1]', topP);

  const out: ResolvedPlanOptions = {
    samples,
    seed,
    diffusionSteps,
    maxReasoningTokens,
    temperature,
    topP,
    returnActions: false,
    returnTokens: false,
    checkClocks: true,
    frameBuffers: 'copy',
  };
  if (o.sampleBatch !== undefined) out.sampleBatch = checkInteger('options.sampleBatch', o.sampleBatch, 1, 16);
  if (o.command !== undefined) {
    if (typeof o.command !== 'string') throw invalidInput('options.command', 'a string', o.command);
    out.command = o.command;
  }
  if (o.initialNoise !== undefined) {
    const noise = o.initialNoise;
    const n = samples * WAYPOINT_COUNT * 2;
    if (!(noise instanceof Float32Array)) throw invalidInput('options.initialNoise', `a Float32Array of samples*64*2 = ${n} values`, noise);
    if (isDetached(noise)) throw invalidInput('options.initialNoise', 'a Float32Array over a live buffer', noise, 'detached');
    if (noise.length !== n) throw invalidInput('options.initialNoise', `length samples*64*2 = ${n}`, noise.length);
    const bad = noise.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw invalidInput(`options.initialNoise[${bad}]`, 'a finite number', noise[bad]);
    const big = noise.findIndex((v) => Math.abs(v) > MAX_INITIAL_NOISE);
    if (big >= 0) throw invalidInput(`options.initialNoise[${big}]`, `a value with |v| <= ${MAX_INITIAL_NOISE} (standard-normal noise)`, noise[big]);
    out.initialNoise = noise;
  }
  if (o.reasoningTokens !== undefined) {
    const r = o.reasoningTokens;
    if (typeof r === 'string') out.reasoningTokens = r;
    else if (Array.isArray(r) || r instanceof Int32Array) {
      const ids = Array.from(r as ArrayLike<unknown>);
      if (ids.length === 0) throw invalidInput('options.reasoningTokens', 'a non-empty string or array of token ids', r);
      ids.forEach((id, i) => checkInteger(`options.reasoningTokens[${i}]`, id, 0, 2 ** 31 - 1));
      out.reasoningTokens = ids as number[];
    } else throw invalidInput('options.reasoningTokens', 'a string or an array of integer token ids', r);
  }
  for (const key of ['returnActions', 'returnTokens'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw invalidInput(`options.${key}`, 'a boolean', o[key]);
    out[key] = o[key] === true;
  }
  if (o.checkClocks !== undefined) {
    if (typeof o.checkClocks !== 'boolean') throw invalidInput('options.checkClocks', 'a boolean', o.checkClocks);
    out.checkClocks = o.checkClocks;
  }
  if (o.frameBuffers !== undefined) {
    if (o.frameBuffers !== 'copy' && o.frameBuffers !== 'transfer') throw invalidInput('options.frameBuffers', "'copy' or 'transfer'", o.frameBuffers);
    out.frameBuffers = o.frameBuffers;
  }
  if (o.signal !== undefined) {
    if (!(o.signal instanceof AbortSignal)) throw invalidInput('options.signal', 'an AbortSignal', o.signal);
    out.signal = o.signal;
  }
  if (o.onToken !== undefined) {
    if (typeof o.onToken !== 'function') throw invalidInput('options.onToken', 'a function (text: string) => void', o.onToken);
    out.onToken = o.onToken as (text: string) => unknown;
  }
  return out;
}

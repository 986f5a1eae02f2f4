// Open-loop evaluation: for each clip, the official loader's sample at t0, K planner samples from a seed
// that depends only on the clip, and the errors against the ground truth. The same evaluateClip() runs
// in the single-process loop below and in queue workers, so both give the same results.
import { AlpamayoError, isAlpamayoError } from '../AlpamayoError.js';
import { PhysicalAIAVDataset } from '../dataset/PhysicalAIAVDataset.js';
import { DEFAULT_T0_US } from '../dataset/types.js';
import type { Planner } from '../Planner.js';
import type { PlanOptions, PlanTimings } from '../types.js';
import { clipMetrics, type ClipMetrics } from './clipMetrics.js';
import { clipSeed } from './clipSeed.js';

/** Sampling settings of a run; every clip of the run uses them. JSON-serializable (they travel in queue jobs). */
export interface EvalSettings {
  /** Sample time, microseconds on the clip clock. Default 5,100,000 (5.1 s, the official loader's default). */
  t0Us?: number;
  /** Samples per clip (K of minADE_K). Default 6. */
  samples?: number;
  /** Base seed; clip seeds derive from it and the clip id ({@link clipSeed}). Default 0. */
  seed?: number;
  /** Planner sampling options passed to every plan. */
  plan?: Pick<PlanOptions, 'temperature' | 'topP' | 'diffusionSteps' | 'maxReasoningTokens' | 'command'>;
}

/** One JSON line of the results file. */
export interface ClipResult extends ClipMetrics {
  clip: string;
  /** t0 in seconds. */
  t0: number;
  t0Us: number;
  /** Seed the planner used for this clip. */
  seed: number;
  samples: number;
  /** Reasoning of the minADE sample (`bestSample`). */
  reasoning: string;
  /** Wall-clock milliseconds: dataset read + decode (`loadMs`), the whole plan (`planMs`), and the planner's stages. */
  timings: PlanTimings & { loadMs: number; planMs: number };
}

/** A clip that could not be evaluated. */
export interface ClipFailure {
  clip: string;
  t0Us: number;
  error: { code: string; message: string };
}

/** Options of {@link evaluateClips}. */
export interface EvaluateClipsOptions extends EvalSettings {
  /** Dataset directory, or an open dataset (left open). */
  data: string | PhysicalAIAVDataset;
  /** Planner to use (left loaded). */
  planner: Planner;
  /** Clips to evaluate, in order. Default: every clip of clip_index.parquet. */
  clips?: readonly string[];
  /** Clips to leave out (e.g. already in the results file). */
  skip?: Iterable<string>;
  /** Clips read and decoded ahead of the one being planned. Default 1. */
  prefetch?: number;
  /** Stops after the clip in progress. */
  signal?: AbortSignal;
}

/** The settings with their defaults filled in, validated. @internal */
export function resolveSettings(s: EvalSettings): Required<Omit<EvalSettings, 'plan'>> & { plan: NonNullable<EvalSettings['plan']> } {
  const t0Us = s.t0Us ?? DEFAULT_T0_US;
  const samples = s.samples ?? 6;
  const seed = s.seed ?? 0;
  if (!Number.isSafeInteger(t0Us)) throw new AlpamayoError(`t0Us: expected an integer, got ${t0Us}`, 'INVALID_INPUT', { field: 't0Us', expected: 'an integer', actual: t0Us });
  if (!(Number.isInteger(samples) && samples >= 1 && samples <= 16)) throw new AlpamayoError(`samples: expected an integer 1..16, got ${samples}`, 'INVALID_INPUT', { field: 'samples', expected: '1..16', actual: samples });
  if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff)) throw new AlpamayoError(`seed: expected a uint32, got ${seed}`, 'INVALID_INPUT', { field: 'seed', expected: 'a uint32', actual: seed });
  return { t0Us, samples, seed, plan: { ...(s.plan ?? {}) } };
}

/** Loads one clip's sample and plans on it; what a queue worker does for one job. */
export async function evaluateClip(dataset: PhysicalAIAVDataset, planner: Planner, clipId: string, settings: EvalSettings = {}): Promise<ClipResult> {
  const s = resolveSettings(settings);
  const t = performance.now();
  const sample = await dataset.loadSample(clipId, { t0Us: s.t0Us });
  return planSample(planner, sample, s, performance.now() - t);
}

async function planSample(
  planner: Planner,
  sample: Awaited<ReturnType<PhysicalAIAVDataset['loadSample']>>,
  s: ReturnType<typeof resolveSettings>,
  loadMs: number,
): Promise<ClipResult> {
  const seed = clipSeed(sample.clipId, s.seed);
  const t = performance.now();
  const r = await planner.plan(sample.frames, sample.egoHistory, { ...s.plan, samples: s.samples, seed });
  const planMs = performance.now() - t;
  const m = clipMetrics(
    r.samples.map((p) => p.waypoints),
    sample.groundTruth,
  );
  return {
    clip: sample.clipId,
    t0: sample.t0Us / 1e6,
    t0Us: sample.t0Us,
    seed,
    samples: s.samples,
    ...m,
    reasoning: r.samples[m.bestSample]!.reasoning,
    timings: { loadMs, planMs, ...r.timings },
  };
}

/** JSON form of a failure. @internal */
export function toFailure(clip: string, t0Us: number, err: unknown): ClipFailure {
  const code = isAlpamayoError(err) ? err.code : 'INTERNAL';
  return { clip, t0Us, error: { code, message: (err as Error)?.message ?? String(err) } };
}

/**
 * Evaluates clips one after another (reading ahead while the planner runs) and yields each clip's
 * result, or its failure, as soon as it is known.
 */
export async function* evaluateClips(opts: EvaluateClipsOptions): AsyncGenerator<ClipResult | ClipFailure, void, undefined> {
  const s = resolveSettings(opts);
  const dataset = typeof opts.data === 'string' ? await PhysicalAIAVDataset.open(opts.data) : opts.data;
  try {
    const skip = new Set(opts.skip ?? []);
    const clips = (opts.clips ?? dataset.clipIds).filter((c) => !skip.has(c));
    const prefetch = Math.max(0, opts.prefetch ?? 1);
    type Loaded = { clip: string; sample?: Awaited<ReturnType<PhysicalAIAVDataset['loadSample']>>; error?: unknown; loadMs: number };
    const load = (clip: string): Promise<Loaded> => {
      const t = performance.now();
      return dataset.loadSample(clip, { t0Us: s.t0Us }).then(
        (sample) => ({ clip, sample, loadMs: performance.now() - t }),
        (error: unknown) => ({ clip, error, loadMs: performance.now() - t }),
      );
    };
    const pending: Promise<Loaded>[] = [];
    let next = 0;
    while (next < clips.length || pending.length) {
      while (next < clips.length && pending.length <= prefetch) pending.push(load(clips[next++]!));
      const loaded = await pending.shift()!;
      if (opts.signal?.aborted) return;
      if (!loaded.sample) {
        yield toFailure(loaded.clip, s.t0Us, loaded.error);
        continue;
      }
      try {
        yield await planSample(opts.planner, loaded.sample, s, loaded.loadMs);
      } catch (err) {
        yield toFailure(loaded.clip, s.t0Us, err);
      }
    }
  } finally {
    if (typeof opts.data === 'string') await dataset.close();
  }
}

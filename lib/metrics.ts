// Research helpers: the official minADE, and validated wrappers over the native trajectory maths.
import { AlpamayoError } from './AlpamayoError.js';
import { loadNative } from './native.js';
import type { Actions, EgoPose, Waypoints } from './types.js';
import { WAYPOINT_COUNT } from './types.js';
import { checkFinite, checkFiniteVector, invalidInput } from './validateCommon.js';
import { packEgoHistory, validateEgoHistory } from './validateEgoHistory.js';

/** A trajectory: `Waypoints`, or flat `[x0,y0,z0, x1,y1,z1, ...]` positions. */
export type TrajectoryLike = Pick<Waypoints, 'positions'> | ArrayLike<number>;

/** Options of {@link minADE}. */
export interface MinADEOptions {
  /** Horizons in seconds for the truncated errors, e.g. `[0.5, 1, 3, 5]` -> steps 5, 10, 30, 50. Default none. */
  horizons?: readonly number[];
  /** Time step of the trajectories, seconds. Default 0.1. */
  dt?: number;
}

/** Result of {@link minADE}. */
export interface MinADEResult {
  /** ADE (metres, XY only, all steps) of the best sample. */
  minADE: number;
  /** Index of the best sample (argmin of ADE over all steps). */
  bestIndex: number;
  /** ADE of every sample. */
  ade: number[];
  /** For each requested horizon (seconds), the best sample's mean XY error over its first steps. */
  horizons: { seconds: number; steps: number; ade: number }[];
}

function positionsOf(field: string, t: TrajectoryLike): ArrayLike<number> {
  const p = typeof t === 'object' && t !== null && 'positions' in t ? t.positions : t;
  if (typeof p !== 'object' || p === null || typeof (p as ArrayLike<number>).length !== 'number') {
    throw invalidInput(field, 'Waypoints or a flat array of x,y,z positions', t);
  }
  return p as ArrayLike<number>;
}

/**
 * minADE as the official evaluation defines it: per-step L2 error in XY only, ADE_k = mean over all
 * steps, k* = argmin ADE_k; shorter horizons report the same k*'s mean error over their first steps
 * (not a per-horizon argmin).
 * @param predictions K sampled trajectories (e.g. `result.samples.map(s => s.waypoints)`).
 * @param groundTruth The true future, same length (t0+0.1 ... t0+6.4 s, t0 ego frame).
 */
export function minADE(predictions: readonly TrajectoryLike[], groundTruth: TrajectoryLike, opts: MinADEOptions = {}): MinADEResult {
  if (!Array.isArray(predictions) || predictions.length === 0) throw invalidInput('predictions', 'a non-empty array of trajectories', predictions);
  const gt = positionsOf('groundTruth', groundTruth);
  if (gt.length === 0 || gt.length % 3 !== 0) throw invalidInput('groundTruth', 'a multiple of 3 values (x,y,z per step)', gt.length);
  const steps = gt.length / 3;
  const dt = opts.dt ?? 0.1;
  if (!(typeof dt === 'number' && Number.isFinite(dt) && dt > 0)) throw invalidInput('opts.dt', 'a positive number of seconds', dt);
  const errors = predictions.map((pred, k) => {
    const p = positionsOf(`predictions[${k}]`, pred);
    if (p.length !== gt.length) throw invalidInput(`predictions[${k}]`, `${gt.length} values (same length as groundTruth)`, p.length);
    const e = new Float64Array(steps);
    for (let i = 0; i < steps; i++) {
      const dx = (p[3 * i] as number) - (gt[3 * i] as number);
      const dy = (p[3 * i + 1] as number) - (gt[3 * i + 1] as number);
      e[i] = Math.hypot(dx, dy);
      if (!Number.isFinite(e[i] as number)) throw invalidInput(`predictions[${k}][${i}]`, 'finite positions', e[i]);
    }
    return e;
  });
  const mean = (e: Float64Array, n: number): number => {
    let s = 0;
    for (let i = 0; i < n; i++) s += e[i] as number;
    return s / n;
  };
  const ade = errors.map((e) => mean(e, steps));
  let bestIndex = 0;
  ade.forEach((v, k) => {
    if (v < (ade[bestIndex] as number)) bestIndex = k;
  });
  const best = errors[bestIndex] as Float64Array;
  const horizons = (opts.horizons ?? []).map((seconds, i) => {
    const n = Math.round(seconds / dt);
    if (typeof seconds !== 'number' || !(n >= 1 && n <= steps) || Math.abs(n * dt - seconds) > 1e-6) {
      throw invalidInput(`opts.horizons[${i}]`, `a multiple of ${dt} s between ${dt} and ${steps * dt} s`, seconds);
    }
    return { seconds, steps: n, ade: mean(best, n) };
  });
  return { minADE: ade[bestIndex] as number, bestIndex, ade, horizons };
}

function configJson(config: unknown): string {
  if (typeof config === 'string') return config;
  if (typeof config === 'object' && config !== null) return JSON.stringify(config);
  throw invalidInput('modelConfig', 'the model config (planner.modelConfig or parsed config.json) as an object or JSON text', config);
}

// The native helpers take null for "the release action space" (the official constants, model-spec §4).
function actionSpaceJson(config: unknown): string | null {
  return config === undefined ? null : configJson(config);
}

function vector(field: string, v: unknown, n: number): Float64Array {
  return Float64Array.from(checkFiniteVector(field, v, n));
}

function isPoseArray(v: unknown): v is readonly EgoPose[] {
  return Array.isArray(v);
}

/**
 * Integrates 64 (accel m/s^2, curvature 1/m) controls with the unicycle model into 64 poses in the t0 ego
 * frame (native implementation), starting from the speed the model estimates from `egoHistory`.
 * @param actions A plan result's `actions` (or any `{ accel, curvature }` of 64 values each).
 * @param modelConfig `planner.modelConfig` or the checkpoint's parsed config.json; default: the release
 *   action space.
 */
export function actionsToTrajectory(actions: Pick<Actions, 'accel' | 'curvature'>, egoHistory: readonly EgoPose[], modelConfig?: unknown): Waypoints;
/** Explicit form: controls as arrays and the initial speed `v0` in m/s. */
export function actionsToTrajectory(accel: ArrayLike<number>, curvature: ArrayLike<number>, v0: number, modelConfig?: unknown): Waypoints;
export function actionsToTrajectory(a0: unknown, a1: unknown, a2?: unknown, a3?: unknown): Waypoints {
  let accel: unknown, curvature: unknown, v0: number, config: unknown;
  if (isPoseArray(a1)) {
    if (typeof a0 !== 'object' || a0 === null || !('accel' in a0) || !('curvature' in a0)) {
      throw invalidInput('actions', 'an object { accel, curvature } (a plan result\'s actions)', a0);
    }
    accel = (a0 as Actions).accel;
    curvature = (a0 as Actions).curvature;
    config = a2;
    v0 = estimateInitialSpeed(a1, config);
  } else {
    accel = a0;
    curvature = a1;
    checkFinite('v0', a2);
    v0 = a2 as number;
    config = a3;
  }
  const a = vector('accel', accel, WAYPOINT_COUNT);
  const k = vector('curvature', curvature, WAYPOINT_COUNT);
  return loadNative().actionsToTrajectory(a, k, v0, actionSpaceJson(config));
}

/**
 * Recovers the controls that exactly reproduce a 64-pose trajectory (the inverse of
 * {@link actionsToTrajectory}, in the native core), from the speed the model estimates from `egoHistory`.
 * @returns `{ accel, curvature, normalized }` like a plan result's `actions`.
 */
export function trajectoryToActions(waypoints: Pick<Waypoints, 'positions' | 'rotations'>, egoHistory: readonly EgoPose[], modelConfig?: unknown): Actions;
/** Explicit form: the initial speed `v0` in m/s. */
export function trajectoryToActions(waypoints: Pick<Waypoints, 'positions' | 'rotations'>, v0: number, modelConfig?: unknown): Actions;
export function trajectoryToActions(waypoints: Pick<Waypoints, 'positions' | 'rotations'>, from: readonly EgoPose[] | number, modelConfig?: unknown): Actions {
  if (typeof waypoints !== 'object' || waypoints === null) throw invalidInput('waypoints', 'an object { positions, rotations }', waypoints);
  const p = vector('waypoints.positions', waypoints.positions, WAYPOINT_COUNT * 3);
  const r = vector('waypoints.rotations', waypoints.rotations, WAYPOINT_COUNT * 9);
  let v0: number;
  if (isPoseArray(from)) v0 = estimateInitialSpeed(from, modelConfig);
  else {
    checkFinite('v0', from);
    v0 = from;
  }
  return loadNative().trajectoryToActions(p, r, v0, actionSpaceJson(modelConfig));
}

/**
 * Speed at t0 (m/s) estimated from 16 ego poses as the model does (smoothed least squares).
 * @param modelConfig `planner.modelConfig` or parsed config.json; default: the release action space.
 */
export function estimateInitialSpeed(egoHistory: readonly EgoPose[], modelConfig?: unknown): number {
  const packed = packEgoHistory(validateEgoHistory(egoHistory));
  return loadNative().estimateInitialSpeed(packed, actionSpaceJson(modelConfig));
}

/** The 48 ego-history token ids (x, y, z per pose) that replace `<|traj_history|>` in the prompt. */
export function historyTokens(egoHistory: readonly EgoPose[], modelConfig: unknown): Int32Array {
  const packed = packEgoHistory(validateEgoHistory(egoHistory));
  const ids = loadNative().historyTokenIds(packed, configJson(modelConfig));
  if (ids.length !== 48) {
    throw new AlpamayoError(`native historyTokenIds returned ${ids.length} ids, expected 48`, 'INTERNAL', { expected: 48, actual: ids.length });
  }
  return ids;
}

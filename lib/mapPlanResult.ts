import { AlpamayoError } from './AlpamayoError.js';
import type { NativePlanResult } from './binding.js';
import type { Actions, PlanResult, PlanSample, Waypoints } from './types.js';
import { WAYPOINT_COUNT } from './types.js';

function expectLength(name: string, arr: { length: number } | undefined, n: number): void {
  if (!arr || arr.length !== n) {
    throw new AlpamayoError(`native result: ${name} has length ${arr?.length}, expected ${n}`, 'INTERNAL', {
      field: `result.${name}`,
      expected: n,
      actual: arr?.length,
    });
  }
}

/**
 * Splits the native per-batch arrays into per-sample public objects. Each sample gets its own copies,
 * so keeping one sample does not pin the whole batch's memory.
 * @internal
 */
export function mapPlanResult(
  native: NativePlanResult,
  opts: { samples: number; seed: number; t0Us: number; returnActions: boolean; returnTokens: boolean; reasoning: string[]; tokens: Int32Array[] },
): PlanResult {
  const k = opts.samples;
  const n = WAYPOINT_COUNT;
  expectLength('positions', native.positions, k * n * 3);
  expectLength('rotations', native.rotations, k * n * 9);
  expectLength('timestamps', native.timestamps, n);
  if (opts.returnActions) {
    expectLength('accel', native.accel, k * n);
    expectLength('curvature', native.curvature, k * n);
    expectLength('normalized', native.normalized, k * n * 2);
  }
  const samples: PlanSample[] = [];
  for (let s = 0; s < k; s++) {
    const waypoints: Waypoints = {
      positions: native.positions.slice(s * n * 3, (s + 1) * n * 3),
      rotations: native.rotations.slice(s * n * 9, (s + 1) * n * 9),
      timestamps: native.timestamps.slice(),
    };
    const sample: PlanSample = { reasoning: opts.reasoning[s] ?? '', waypoints };
    if (opts.returnActions) {
      const actions: Actions = {
        accel: native.accel.slice(s * n, (s + 1) * n),
        curvature: native.curvature.slice(s * n, (s + 1) * n),
        normalized: native.normalized.slice(s * n * 2, (s + 1) * n * 2),
      };
      sample.actions = actions;
    }
    if (opts.returnTokens) sample.tokens = opts.tokens[s] ?? new Int32Array(0);
    samples.push(sample);
  }
  const first = samples[0] as PlanSample;
  const result: PlanResult = {
    reasoning: first.reasoning,
    waypoints: first.waypoints,
    samples,
    timings: { ...native.timings },
    t0Us: opts.t0Us,
    seed: opts.seed,
  };
  if (first.actions) {
    result.actions = first.actions;
    result.v0 = native.v0;
  }
  if (first.tokens) result.tokens = first.tokens;
  return result;
}

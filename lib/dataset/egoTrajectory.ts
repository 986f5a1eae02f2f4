// The official loader's trajectory step: 16 history poses (t0-1.5 ... t0) and 64 future poses
// (t0+0.1 ... t0+6.4) at 10 Hz, interpolated from the egomotion series and moved into the t0 ego frame:
// p_local = R0^-1 (p - p0), R_local = R0^-1 R.
import { AlpamayoError } from '../AlpamayoError.js';
import type { EgoPose, Waypoints } from '../types.js';
import { EGO_HISTORY_LENGTH, WAYPOINT_COUNT } from '../types.js';
import type { PoseInterpolator } from './poseInterpolator.js';
import { inverse, multiply, normalize, rotate, toMatrix, type Quat } from './quaternion.js';

const STEP_US = 100_000;

/** History (16) and future (64) sample times for t0, microseconds. @internal */
export function trajectoryTimes(t0Us: number): { history: number[]; future: number[] } {
  if (!Number.isSafeInteger(t0Us) || t0Us <= EGO_HISTORY_LENGTH * STEP_US) {
    throw new AlpamayoError(`t0Us: expected an integer number of microseconds above ${EGO_HISTORY_LENGTH * STEP_US} (the history range), got ${t0Us}`, 'INVALID_INPUT', {
      field: 't0Us',
      expected: `an integer > ${EGO_HISTORY_LENGTH * STEP_US}`,
      actual: t0Us,
    });
  }
  return {
    history: Array.from({ length: EGO_HISTORY_LENGTH }, (_, i) => t0Us + (i - (EGO_HISTORY_LENGTH - 1)) * STEP_US),
    future: Array.from({ length: WAYPOINT_COUNT }, (_, i) => t0Us + (i + 1) * STEP_US),
  };
}

/** Ego history and ground-truth future in the t0 ego frame. @internal */
export function egoTrajectory(poses: PoseInterpolator, t0Us: number): { egoHistory: EgoPose[]; groundTruth: Waypoints; futureTimestampsUs: number[] } {
  const times = trajectoryTimes(t0Us);
  const all = [...times.history, ...times.future];
  const { positions, quaternions } = poses.at(all);
  const h = EGO_HISTORY_LENGTH - 1;
  const p0: [number, number, number] = [positions[3 * h]!, positions[3 * h + 1]!, positions[3 * h + 2]!];
  // The loader goes through as_quat() and from_quat() again: normalize like it.
  const inv0 = inverse(normalize(quaternions.subarray(4 * h, 4 * h + 4)));
  const localPositions = new Float64Array(3 * all.length);
  const localRotations = new Float64Array(9 * all.length);
  for (let k = 0; k < all.length; k++) {
    const p = rotate(inv0, [positions[3 * k]! - p0[0], positions[3 * k + 1]! - p0[1], positions[3 * k + 2]! - p0[2]]);
    localPositions.set(p, 3 * k);
    const q: Quat = multiply(inv0, normalize(quaternions.subarray(4 * k, 4 * k + 4)));
    toMatrix(q, localRotations, 9 * k);
  }
  const egoHistory: EgoPose[] = times.history.map((timestampUs, k) => ({
    timestampUs,
    position: localPositions.slice(3 * k, 3 * k + 3),
    rotation: localRotations.slice(9 * k, 9 * k + 9),
  }));
  const f = EGO_HISTORY_LENGTH;
  const groundTruth: Waypoints = {
    positions: localPositions.slice(3 * f),
    rotations: localRotations.slice(9 * f),
    timestamps: Float64Array.from(times.future, (t) => (t - t0Us) / 1e6),
  };
  return { egoHistory, groundTruth, futureTimestampsUs: times.future };
}

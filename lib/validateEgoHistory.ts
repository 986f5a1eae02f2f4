import { AlpamayoError } from './AlpamayoError.js';
import { EGO_HISTORY_LENGTH } from './types.js';
import { checkFinite, checkFiniteVector, describeValue, invalidInput, isPlainObject } from './validateCommon.js';

/** Tolerance for R R^T = I and det R = +1. */
const ORTHONORMAL_TOL = 1e-3;

/** A checked pose with plain-number fields. @internal */
export interface CheckedPose {
  timestampUs: number;
  position: [number, number, number];
  rotation: number[];
}

/** Largest |(R R^T - I)_ij| and det R of a row-major 3x3. @internal */
export function orthonormalityError(r: readonly number[]): { maxDeviation: number; det: number } {
  let maxDeviation = 0;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let dot = 0;
      for (let k = 0; k < 3; k++) dot += (r[3 * i + k] as number) * (r[3 * j + k] as number);
      maxDeviation = Math.max(maxDeviation, Math.abs(dot - (i === j ? 1 : 0)));
    }
  }
  const [a, b, c, d, e, f, g, h, k] = r as [number, number, number, number, number, number, number, number, number];
  const det = a * (e * k - f * h) - b * (d * k - f * g) + c * (d * h - e * g);
  return { maxDeviation, det };
}

/**
 * Checks the ego history: 16 poses oldest -> newest with strictly increasing finite timestamps,
 * finite positions and proper rotations.
 * @throws AlpamayoError `INVALID_INPUT` naming the field, e.g. `egoHistory[3].rotation`.
 * @internal
 */
export function validateEgoHistory(history: unknown, field = 'egoHistory'): CheckedPose[] {
  if (!Array.isArray(history) || history.length !== EGO_HISTORY_LENGTH) {
    throw invalidInput(field, `an array of exactly ${EGO_HISTORY_LENGTH} poses, oldest -> newest`, history);
  }
  const out: CheckedPose[] = [];
  let previous = -Infinity;
  history.forEach((pose: unknown, i: number) => {
    const f = `${field}[${i}]`;
    if (!isPlainObject(pose)) throw invalidInput(f, 'a pose object { timestampUs, position, rotation }', pose);
    const t = checkFinite(`${f}.timestampUs`, pose.timestampUs);
    if (!(t > previous)) {
      throw new AlpamayoError(
        `${f}.timestampUs: expected > ${previous} (poses oldest -> newest, strictly increasing), got ${describeValue(t)}`,
        'INVALID_INPUT',
        { field: `${f}.timestampUs`, expected: `> ${previous}`, actual: t },
      );
    }
    previous = t;
    const position = checkFiniteVector(`${f}.position`, pose.position, 3) as [number, number, number];
    const rotation = checkFiniteVector(`${f}.rotation`, pose.rotation, 9);
    const { maxDeviation, det } = orthonormalityError(rotation);
    if (maxDeviation > ORTHONORMAL_TOL || Math.abs(det - 1) > ORTHONORMAL_TOL) {
      throw new AlpamayoError(
        `${f}.rotation: expected an orthonormal 3x3 row-major matrix with det +1 (tolerance ${ORTHONORMAL_TOL}), ` +
          `got max |R R^T - I| = ${maxDeviation.toPrecision(3)}, det = ${det.toPrecision(4)}`,
        'INVALID_INPUT',
        { field: `${f}.rotation`, expected: 'orthonormal, det +1', actual: rotation },
      );
    }
    out.push({ timestampUs: t, position, rotation });
  });
  return out;
}

/**
 * Packs checked poses as the native 16 x 13 layout [t, x, y, z, r00..r22], expressed in the t0 ego
 * frame (the last pose): t in seconds relative to t0, p' = R0^T (p - p0), R' = R0^T R. The last row is
 * therefore (0, 0,0,0, I), which makes the transform idempotent if the native side applies it again.
 * @internal
 */
export function packEgoHistory(poses: readonly CheckedPose[]): Float64Array {
  const last = poses[poses.length - 1] as CheckedPose;
  const r0 = last.rotation;
  const out = new Float64Array(poses.length * 13);
  poses.forEach((pose, i) => {
    const o = i * 13;
    out[o] = (pose.timestampUs - last.timestampUs) / 1e6;
    const d = [0, 1, 2].map((k) => (pose.position[k] as number) - (last.position[k] as number));
    for (let r = 0; r < 3; r++) {
      // (R0^T d)_r = sum_k R0[k][r] d_k
      let s = 0;
      for (let k = 0; k < 3; k++) s += (r0[3 * k + r] as number) * (d[k] as number);
      out[o + 1 + r] = s;
      for (let c = 0; c < 3; c++) {
        let m = 0;
        for (let k = 0; k < 3; k++) m += (r0[3 * k + r] as number) * (pose.rotation[3 * k + c] as number);
        out[o + 4 + 3 * r + c] = m;
      }
    }
  });
  return out;
}

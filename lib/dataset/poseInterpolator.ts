// Ego pose at any time inside a clip's egomotion series, interpolated as physical_ai_av does it
// (egomotion.py + utils/interpolation.py): translation by one not-a-knot cubic spline over the whole
// series, rotation by spherical linear interpolation between neighbouring samples (scipy Slerp), both on
// times relative to the first sample; a time outside the samples is an error (extrapolation disallowed).
import { AlpamayoError } from '../AlpamayoError.js';
import { CubicSpline } from './cubicSpline.js';
import { fromRotvec, inverse, multiply, normalize, toRotvec, type Quat } from './quaternion.js';

/** Poses at requested times: `positions` 3 per time, `quaternions` 4 per time (x, y, z, w). @internal */
export interface InterpolatedPoses {
  positions: Float64Array;
  quaternions: Float64Array;
}

/** @internal */
export class PoseInterpolator {
  readonly #t0: number;
  readonly #times: Float64Array;
  readonly #spline: CubicSpline;
  readonly #rotations: Quat[];
  readonly #rotvecs: [number, number, number][];

  /**
   * @param timestampsUs Sample times, microseconds, strictly increasing.
   * @param positions `x, y, z` per sample.
   * @param quaternions `qx, qy, qz, qw` per sample (normalized here).
   */
  constructor(timestampsUs: readonly number[], positions: Float64Array, quaternions: Float64Array) {
    const n = timestampsUs.length;
    this.#t0 = timestampsUs[0] as number;
    this.#times = Float64Array.from(timestampsUs, (t) => t - this.#t0);
    this.#spline = new CubicSpline(this.#times, positions, 3);
    this.#rotations = [];
    for (let i = 0; i < n; i++) {
      const q = quaternions.subarray(4 * i, 4 * i + 4);
      if (!q.every(Number.isFinite) || q.every((v) => v === 0)) {
        throw new AlpamayoError(`egomotion: sample ${i} has no valid quaternion`, 'INVALID_INPUT', { field: `egomotion.q[${i}]`, expected: 'a finite non-zero quaternion', actual: Array.from(q) });
      }
      this.#rotations.push(normalize(q));
    }
    this.#rotvecs = [];
    for (let i = 0; i + 1 < n; i++) this.#rotvecs.push(toRotvec(multiply(inverse(this.#rotations[i]!), this.#rotations[i + 1]!)));
  }

  /** First and last sample time, microseconds. */
  get timeRangeUs(): [number, number] {
    const [a, b] = this.#spline.range;
    return [a + this.#t0, b + this.#t0];
  }

  /** Poses at `timestampsUs` (microseconds on the clip clock); throws for a time outside the samples. */
  at(timestampsUs: readonly number[]): InterpolatedPoses {
    const positions = new Float64Array(3 * timestampsUs.length);
    const quaternions = new Float64Array(4 * timestampsUs.length);
    const times = this.#times;
    const last = times.length - 1;
    const xyz = new Float64Array(3);
    timestampsUs.forEach((tUs, k) => {
      const t = tUs - this.#t0;
      if (!(t >= 0 && t <= (times[last] as number))) {
        const [lo, hi] = this.timeRangeUs;
        throw new AlpamayoError(`egomotion: pose time ${tUs} us is outside the samples [${lo}, ${hi}] us`, 'INVALID_INPUT', {
          field: 't0Us',
          expected: `pose times within [${lo}, ${hi}] us`,
          actual: tUs,
        });
      }
      this.#spline.at(t, xyz);
      positions.set(xyz, 3 * k);
      // Slerp's interval: the one ending at or after t (searchsorted 'left' - 1), the first for t = times[0].
      let i = t === times[0] ? 0 : lowerBound(times, t) - 1;
      if (i < 0) i = 0;
      const alpha = (t - (times[i] as number)) / ((times[i + 1] as number) - (times[i] as number));
      const v = this.#rotvecs[i]!;
      const q = multiply(this.#rotations[i]!, fromRotvec([v[0] * alpha, v[1] * alpha, v[2] * alpha]));
      quaternions.set(q, 4 * k);
    });
    return { positions, quaternions };
  }
}

// First index with times[i] >= t.
function lowerBound(times: Float64Array, t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((times[mid] as number) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Cubic spline with scipy's default ("not-a-knot") end conditions and no extrapolation: the method
// physical_ai_av uses for ego translations (scipy.interpolate.CubicSpline(t, xyz, extrapolate=False)
// over the whole egomotion series). One spline over all samples, not a local scheme: a local
// 4-point fit agrees with it only to ~1e-5 m, and the reader must match the official loader to 1e-9.
import { AlpamayoError } from '../AlpamayoError.js';

/**
 * Not-a-knot cubic spline through (x[i], y[i, :]) with `dims` values per knot, evaluated piecewise as
 * scipy's PPoly does: on [x[i], x[i+1]) the polynomial of interval i, the last interval closed.
 * @internal
 */
export class CubicSpline {
  readonly #x: Float64Array;
  readonly #dims: number;
  // Per interval i and dim d: c[(i*dims + d)*4 + k] is the coefficient of (t - x[i])^(3-k).
  readonly #c: Float64Array;

  /**
   * @param x Strictly increasing knots (at least 4; scipy switches to other conditions below that).
   * @param y `x.length * dims` values, knot-major.
   */
  constructor(x: Float64Array, y: Float64Array, dims: number) {
    const n = x.length;
    if (n < 4) throw new AlpamayoError(`cubic spline: expected at least 4 samples, got ${n}`, 'INVALID_INPUT', { field: 'egomotion', expected: '>= 4 samples', actual: n });
    if (y.length !== n * dims) throw new AlpamayoError(`cubic spline: expected ${n * dims} values, got ${y.length}`, 'INTERNAL');
    const dx = new Float64Array(n - 1);
    for (let i = 0; i < n - 1; i++) {
      dx[i] = (x[i + 1] as number) - (x[i] as number);
      if (!(dx[i]! > 0)) throw new AlpamayoError(`cubic spline: sample times must be strictly increasing (sample ${i + 1})`, 'INVALID_INPUT', { field: 'egomotion.timestamp', expected: 'strictly increasing', actual: x[i + 1] });
    }
    this.#x = x;
    this.#dims = dims;
    this.#c = new Float64Array((n - 1) * dims * 4);
    // Tridiagonal system for the knot slopes s (same rows scipy builds), solved per dimension.
    const sub = new Float64Array(n);
    const diag = new Float64Array(n);
    const sup = new Float64Array(n);
    const rhs = new Float64Array(n);
    const slope = new Float64Array(n - 1);
    const s = new Float64Array(n);
    for (let d = 0; d < dims; d++) {
      for (let i = 0; i < n - 1; i++) slope[i] = ((y[(i + 1) * dims + d] as number) - (y[i * dims + d] as number)) / dx[i]!;
      for (let i = 1; i < n - 1; i++) {
        sub[i] = dx[i]!;
        diag[i] = 2 * (dx[i - 1]! + dx[i]!);
        sup[i] = dx[i - 1]!;
        rhs[i] = 3 * (dx[i]! * slope[i - 1]! + dx[i - 1]! * slope[i]!);
      }
      // Not-a-knot: the third derivative is continuous at x[1] and x[n-2].
      const w0 = (x[2] as number) - (x[0] as number);
      diag[0] = dx[1]!;
      sup[0] = w0;
      rhs[0] = ((dx[0]! + 2 * w0) * dx[1]! * slope[0]! + dx[0]! * dx[0]! * slope[1]!) / w0;
      const wn = (x[n - 1] as number) - (x[n - 3] as number);
      sub[n - 1] = wn;
      diag[n - 1] = dx[n - 3]!;
      rhs[n - 1] = (dx[n - 2]! * dx[n - 2]! * slope[n - 3]! + (2 * wn + dx[n - 2]!) * dx[n - 3]! * slope[n - 2]!) / wn;
      solveTridiagonal(sub, diag, sup, rhs, s);
      for (let i = 0; i < n - 1; i++) {
        const t = (s[i]! + s[i + 1]! - 2 * slope[i]!) / dx[i]!;
        const o = (i * dims + d) * 4;
        this.#c[o] = t / dx[i]!;
        this.#c[o + 1] = (slope[i]! - s[i]!) / dx[i]! - t;
        this.#c[o + 2] = s[i]!;
        this.#c[o + 3] = y[i * dims + d] as number;
      }
    }
  }

  /** First and last knot. */
  get range(): [number, number] {
    return [this.#x[0] as number, this.#x[this.#x.length - 1] as number];
  }

  /** Values at `t` (`dims` numbers); NaN outside the knots, as scipy with extrapolate=False. */
  at(t: number, out: Float64Array = new Float64Array(this.#dims)): Float64Array {
    const x = this.#x;
    const n = x.length;
    if (!(t >= (x[0] as number) && t <= (x[n - 1] as number))) return out.fill(Number.NaN);
    const i = Math.min(intervalOf(x, t), n - 2);
    const h = t - (x[i] as number);
    for (let d = 0; d < this.#dims; d++) {
      const o = (i * this.#dims + d) * 4;
      // Summed from the constant term up with running powers, in scipy's PPoly order (not Horner), so the
      // rounding matches too.
      out[d] = this.#c[o + 3]! + this.#c[o + 2]! * h + this.#c[o + 1]! * (h * h) + this.#c[o]! * (h * h * h);
    }
    return out;
  }
}

/** Largest i with x[i] <= t (x sorted, t >= x[0]). @internal */
export function intervalOf(x: ArrayLike<number>, t: number): number {
  let lo = 0;
  let hi = x.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((x[mid] as number) <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// Thomas algorithm. The system is diagonally dominant except its first and last rows, whose elimination
// leaves positive pivots (dx[0] + dx[1] and dx[n-2] + dx[n-3]), so no pivoting is needed.
function solveTridiagonal(sub: Float64Array, diag: Float64Array, sup: Float64Array, rhs: Float64Array, out: Float64Array): void {
  const n = diag.length;
  const c = new Float64Array(n);
  const d = new Float64Array(n);
  c[0] = sup[0]! / diag[0]!;
  d[0] = rhs[0]! / diag[0]!;
  for (let i = 1; i < n; i++) {
    const m = diag[i]! - sub[i]! * c[i - 1]!;
    c[i] = i < n - 1 ? sup[i]! / m : 0;
    d[i] = (rhs[i]! - sub[i]! * d[i - 1]!) / m;
  }
  out[n - 1] = d[n - 1]!;
  for (let i = n - 2; i >= 0; i--) out[i] = d[i]! - c[i]! * out[i + 1]!;
}

import t from 'tap';
import { minADE } from '../lib/metrics.js';

const N = 64;
/** Trajectory with per-step offset (dx, dy, dz) from the origin for steps where `on(i)`. */
function offset(dx: number, dy: number, dz: number, on: (i: number) => boolean = () => true): Float64Array {
  const p = new Float64Array(N * 3);
  for (let i = 0; i < N; i++) if (on(i)) p.set([dx, dy, dz], 3 * i);
  return p;
}

t.test('minADE hand case: XY only, best by full ADE, horizons for that same sample', async (t) => {
  const gt = new Float64Array(N * 3);
  const a = offset(3, 4, 100); // error 5 every step; z offset must be ignored
  const b = offset(1, 0, 0, (i) => i < 32); // error 1 on the first 32 steps -> ADE 0.5
  const c = offset(0, 2, 0, (i) => i >= 10); // 0 for 1 s then 2 -> ADE 54*2/64 = 1.6875, but best at 0.5 s
  const r = minADE([a, { positions: b }, c], gt, { horizons: [0.5, 1, 3, 5] });
  t.equal(r.bestIndex, 1);
  t.equal(r.minADE, 0.5);
  t.same(r.ade, [5, 0.5, 1.6875]);
  // Official: the horizons use k* (sample 1), not a per-horizon argmin (which would pick sample 2 at 0.5 s and 1 s).
  t.same(r.horizons, [
    { seconds: 0.5, steps: 5, ade: 1 },
    { seconds: 1, steps: 10, ade: 1 },
    { seconds: 3, steps: 30, ade: 1 },
    { seconds: 5, steps: 50, ade: 32 / 50 },
  ]);
});

t.test('minADE with one sample is its ADE; ties pick the first', async (t) => {
  const gt = offset(1, 1, 0);
  const p = offset(1, 1, 0, () => true);
  p[0] = 4; // first step off by 3 in x
  t.equal(minADE([p], gt).minADE, 3 / 64);
  t.equal(minADE([gt, gt], gt).bestIndex, 0);
});

t.test('minADE validates', async (t) => {
  const gt = new Float64Array(N * 3);
  t.throws(() => minADE([], gt), { code: 'INVALID_INPUT', field: 'predictions' });
  t.throws(() => minADE([new Float64Array(10)], gt), { code: 'INVALID_INPUT', field: 'predictions[0]', message: /192 values/ });
  t.throws(() => minADE([gt], gt, { horizons: [7] }), { code: 'INVALID_INPUT', field: 'opts.horizons[0]' });
  t.throws(() => minADE([gt], gt, { horizons: [0.55] }), { code: 'INVALID_INPUT', field: 'opts.horizons[0]' });
  const nan = new Float64Array(N * 3);
  nan[4] = NaN;
  t.throws(() => minADE([nan], gt), { code: 'INVALID_INPUT', field: 'predictions[0][1]' });
});

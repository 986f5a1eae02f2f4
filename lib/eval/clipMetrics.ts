// Per-clip open-loop errors at the model card's horizons, XY only (as the official evaluation).
import { minADE, type TrajectoryLike } from '../metrics.js';
import type { Waypoints } from '../types.js';

/** Horizons (seconds) every result reports. */
export const EVAL_HORIZONS = [0.5, 1, 3, 5, 6.4] as const;

/** One value per horizon, keyed "0.5s", "1s", "3s", "5s", "6.4s". */
export type HorizonValues = Record<`${(typeof EVAL_HORIZONS)[number]}s`, number>;

/** Errors of one clip's samples against its ground truth. */
export interface ClipMetrics {
  /** Official minADE: the sample k* with the least ADE over all 64 steps; its mean XY error over each horizon. */
  minADE: HorizonValues;
  /** Mean over samples of each sample's mean XY error over each horizon (the expected error of one sample). */
  ADE: HorizonValues;
  /** XY error of sample k* at each horizon's last step. */
  FDE: HorizonValues;
  /** k*, the index of the minADE sample. */
  bestSample: number;
}

function positions(t: TrajectoryLike): ArrayLike<number> {
  return 'positions' in t ? t.positions : t;
}

/** minADE / ADE / FDE of `predictions` (K trajectories) against `groundTruth`, at {@link EVAL_HORIZONS}. */
export function clipMetrics(predictions: readonly TrajectoryLike[], groundTruth: Pick<Waypoints, 'positions'>): ClipMetrics {
  const best = minADE(predictions, groundTruth, { horizons: EVAL_HORIZONS });
  const gt = groundTruth.positions;
  const err = (p: ArrayLike<number>, i: number): number => Math.hypot((p[3 * i] as number) - (gt[3 * i] as number), (p[3 * i + 1] as number) - (gt[3 * i + 1] as number));
  const minAde = {} as HorizonValues;
  const ade = {} as HorizonValues;
  const fde = {} as HorizonValues;
  const bestPositions = positions(predictions[best.bestIndex]!);
  for (const h of best.horizons) {
    const key = `${h.seconds}s` as keyof HorizonValues;
    minAde[key] = h.ade;
    let sum = 0;
    for (const pred of predictions) {
      const p = positions(pred);
      let s = 0;
      for (let i = 0; i < h.steps; i++) s += err(p, i);
      sum += s / h.steps;
    }
    ade[key] = sum / predictions.length;
    fde[key] = err(bestPositions, h.steps - 1);
  }
  return { minADE: minAde, ADE: ade, FDE: fde, bestSample: best.bestIndex };
}

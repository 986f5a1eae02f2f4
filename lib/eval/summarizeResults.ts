// Mean, median and p90 of every metric over clips, and their text table.
import { EVAL_HORIZONS, type HorizonValues } from './clipMetrics.js';

/** One row of {@link summarizeResults}. */
export interface MetricSummary {
  /** e.g. `minADE@6.4s`. */
  metric: string;
  clips: number;
  mean: number;
  median: number;
  p90: number;
}

/** Quantile with linear interpolation between order statistics (numpy's default). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** Per metric and horizon over `results` (each with minADE/ADE/FDE by horizon). */
export function summarizeResults(results: readonly { minADE: HorizonValues; ADE: HorizonValues; FDE: HorizonValues }[]): MetricSummary[] {
  const rows: MetricSummary[] = [];
  for (const metric of ['minADE', 'ADE', 'FDE'] as const) {
    for (const h of EVAL_HORIZONS) {
      const v = results.map((r) => r[metric][`${h}s` as keyof HorizonValues]);
      rows.push({ metric: `${metric}@${h}s`, clips: v.length, mean: v.reduce((a, b) => a + b, 0) / (v.length || Number.NaN), median: quantile(v, 0.5), p90: quantile(v, 0.9) });
    }
  }
  return rows;
}

/** Fixed-width table of {@link summarizeResults} rows (metres). */
export function formatSummaryTable(rows: readonly MetricSummary[]): string {
  const head = ['metric (m)', 'clips', 'mean', 'median', 'p90'];
  const body = rows.map((r) => [r.metric, String(r.clips), r.mean.toFixed(3), r.median.toFixed(3), r.p90.toFixed(3)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

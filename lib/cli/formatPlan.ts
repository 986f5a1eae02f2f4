import type { PlanResult } from '../types.js';

/** Human-readable plan summary: reasoning per sample, a waypoint table (every `every`-th pose) and timings. @internal */
export function formatPlan(r: PlanResult, every = 8): string {
  const lines: string[] = [];
  r.samples.forEach((s, k) => lines.push(`reasoning[${k}]: ${s.reasoning || '(empty)'}`));
  lines.push('', '   t(s)  ' + r.samples.map((_, k) => `x${k}(m)    y${k}(m)  `).join(''));
  const ts = r.waypoints.timestamps;
  for (let i = every - 1; i < ts.length; i += every) {
    const cols = r.samples.map((s) => `${(s.waypoints.positions[3 * i] as number).toFixed(2).padStart(7)} ${(s.waypoints.positions[3 * i + 1] as number).toFixed(2).padStart(7)}  `);
    lines.push(`${(ts[i] as number).toFixed(1).padStart(6)}  ${cols.join('')}`);
  }
  const t = r.timings;
  lines.push(
    '',
    `timings (ms): preprocess ${t.preprocessMs.toFixed(1)}, vision ${t.visionMs.toFixed(1)}, prefill ${t.prefillMs.toFixed(1)}, ` +
      `reasoning ${t.reasoningMs.toFixed(1)}, action ${t.actionMs.toFixed(1)}, total ${t.totalMs.toFixed(1)}`,
  );
  return lines.join('\n');
}

/** JSON-safe copy of a plan result (typed arrays become plain arrays). @internal */
export function planToJson(r: PlanResult): unknown {
  return JSON.parse(JSON.stringify(r, (_key, value: unknown) => (ArrayBuffer.isView(value) ? Array.from(value as unknown as ArrayLike<number>) : value)));
}

// N plans on one backend/checkpoint: latency p50/p90/p99, mean native timings, peak RSS.
// node --import=@tapjs/typescript/import bench/plan.ts [checkpointDir] [plans] [backend] [maxReasoningTokens] [threads]
import { cpus, platform } from 'node:os';
import { Planner } from '../lib/Planner.js';
import { curvedEgoHistory, syntheticFrames } from '../lib/cli/syntheticScene.js';
import type { PlanTimings } from '../lib/types.js';

const [dir = '.cache/tiny', nArg = '20', backend = 'cpu', tokArg = '32', thrArg = '0'] = process.argv.slice(2);
const N = Number(nArg);
const t0Us = 1_700_000_000_000_000;
const frames = syntheticFrames(t0Us, 576, 320);
const history = curvedEgoHistory(t0Us);
await using planner = await Planner.load({ checkpoint: dir, backend: backend as 'cpu', threads: Number(thrArg) });
let peak = process.memoryUsage().rss;
const lat: number[] = [];
const sum: PlanTimings = { preprocessMs: 0, visionMs: 0, prefillMs: 0, reasoningMs: 0, actionMs: 0, totalMs: 0 };
await planner.plan(frames, history, { seed: 0, temperature: 0, maxReasoningTokens: Number(tokArg) }); // warm-up
for (let i = 0; i < N; i++) {
  const t = performance.now();
  const r = await planner.plan(frames, history, { seed: i, temperature: 0, maxReasoningTokens: Number(tokArg) });
  lat.push(performance.now() - t);
  for (const k of Object.keys(sum) as (keyof PlanTimings)[]) sum[k] += r.timings[k];
  peak = Math.max(peak, process.memoryUsage().rss);
}
lat.sort((a, b) => a - b);
const q = (p: number): string => (lat[Math.min(lat.length - 1, Math.floor((lat.length - 1) * p))] ?? NaN).toFixed(1);
console.log(`${cpus()[0]?.model} x ${cpus().length}, ${platform()}, Node ${process.version}; ${dir}, backend ${planner.backend} ${planner.precision}, ${N} plans, maxReasoningTokens ${tokArg}, threads ${thrArg}`);
console.log(`| p50 ms | p90 ms | p99 ms | peak RSS MB |\n|---:|---:|---:|---:|\n| ${q(0.5)} | ${q(0.9)} | ${q(0.99)} | ${(peak / 2 ** 20).toFixed(0)} |`);
console.log('| stage | mean ms |\n|---|---:|');
for (const [k, v] of Object.entries(sum)) console.log(`| ${k} | ${(v / N).toFixed(1)} |`);

// Cost of K samples: one plan with `samples: K` decoded and denoised in one pass (default) against the
// same plan one sample at a time (`sampleBatch: 1`), and against `samples: 1`. Native timings are the
// minimum over the plans (robust to other processes on a shared box); cpu ms is the process's mean CPU
// time per plan (user + system), which contention inflates far less than wall time.
// node --import=@tapjs/typescript/import bench/samples.ts [checkpointDir] [plans] [samples] [maxReasoningTokens] [threads] [backend]
import { cpus, loadavg, platform } from 'node:os';
import { Planner } from '../lib/Planner.js';
import { curvedEgoHistory, syntheticFrames } from '../lib/cli/syntheticScene.js';
import type { PlanOptions, PlanTimings } from '../lib/types.js';
import { benchCheckpoint } from './benchCheckpoint.js';

const [dirArg, nArg = '3', kArg = '6', tokArg = '32', thrArg = '0', backend = 'cpu'] = process.argv.slice(2);
const dir = await benchCheckpoint(dirArg, 'small');
const N = Number(nArg);
const K = Number(kArg);
const t0Us = 1_700_000_000_000_000;
const frames = syntheticFrames(t0Us, 576, 320);
const history = curvedEgoHistory(t0Us);
await using planner = await Planner.load({ checkpoint: dir, backend: backend as 'cpu', threads: Number(thrArg) });
const base: PlanOptions = { seed: 0, temperature: 0, maxReasoningTokens: Number(tokArg), returnTokens: true };
await planner.plan(frames, history, { ...base, samples: K }); // warm-up (weights, caches, pools)

interface Row { name: string; t: PlanTimings; tokens: number; cpuMs: number }
async function measure(name: string, opts: PlanOptions): Promise<Row> {
  const t: PlanTimings = { preprocessMs: Infinity, visionMs: Infinity, prefillMs: Infinity, reasoningMs: Infinity, actionMs: Infinity, totalMs: Infinity };
  let tokens = 0;
  let cpuMs = 0;
  for (let i = 0; i < N; i++) {
    const c0 = process.cpuUsage();
    const r = await planner.plan(frames, history, { ...base, ...opts, seed: i });
    const c = process.cpuUsage(c0);
    cpuMs += (c.user + c.system) / 1000 / N;
    for (const k of Object.keys(t) as (keyof PlanTimings)[]) t[k] = Math.min(t[k], r.timings[k]);
    tokens += r.samples.reduce((a, s) => a + (s.tokens?.length ?? 0), 0) / N;
  }
  return { name, t, tokens, cpuMs };
}

// Interleaved so that load changes on a shared box hit every configuration alike.
const rows: Row[] = [];
rows.push(await measure('samples 1', { samples: 1 }));
rows.push(await measure(`samples ${K}, one pass`, { samples: K }));
rows.push(await measure(`samples ${K}, sampleBatch 1`, { samples: K, sampleBatch: 1 }));
const one = rows[0]!.t;
console.log(`${cpus()[0]?.model} x ${cpus().length}, ${platform()}, Node ${process.version}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${dir}, backend ${planner.backend} ${planner.precision}, ${N} plans each, maxReasoningTokens ${tokArg}, threads ${thrArg}, greedy`);
console.log('| plan | tokens | whole plan ms | reasoning ms | action ms | reasoning+action vs 1 | whole vs 1 | cpu ms | cpu vs 1 |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const ra = (r.t.reasoningMs + r.t.actionMs) / (one.reasoningMs + one.actionMs);
  console.log(`| ${r.name} | ${r.tokens.toFixed(0)} | ${r.t.totalMs.toFixed(0)} | ${r.t.reasoningMs.toFixed(0)} | ${r.t.actionMs.toFixed(0)} | ${ra.toFixed(2)}x | ${(r.t.totalMs / one.totalMs).toFixed(2)}x | ${r.cpuMs.toFixed(0)} | ${(r.cpuMs / rows[0]!.cpuMs).toFixed(2)}x |`);
}

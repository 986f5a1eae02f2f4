// Abort latency at random points of plans: the time from AbortController.abort() to the plan's
// rejection, by the stage the abort landed in (from the ABORTED message: "plan aborted during prefill").
// Small checkpoint, a long prompt (a command near the default 256-token limit), forced reasoning so every plan decodes the
// same number of tokens, 10 Euler steps. Each stage gets N aborts at uniform random offsets inside
// that stage's window (measured from an unaborted plan first).
// node --import=@tapjs/typescript/import bench/abortLatency.ts [checkpointDir] [aborts per stage] [threads]
import { cpus } from 'node:os';
import { AlpamayoError } from '../lib/AlpamayoError.js';
import { Planner } from '../lib/Planner.js';
import { curvedEgoHistory, syntheticFrames } from '../lib/syntheticScene.js';
import type { PlanOptions } from '../lib/types.js';

const dir = process.argv[2] ?? '.cache/test-checkpoints/small';
const N = Number(process.argv[3] ?? 50);
const threads = Number(process.argv[4] ?? 1);
const t0Us = 1_700_000_000_000_000;
const frames = syntheticFrames(t0Us, 320, 180);
const history = curvedEgoHistory(t0Us);
// As long as the default maxCommandTokens (256) allows: the prompt is the fixed 16-image prompt plus it.
const command = 'keep the lane and yield to pedestrians '.repeat(6);
const OPTS: PlanOptions = {
  seed: 11,
  temperature: 0,
  maxReasoningTokens: 64,
  reasoningTokens: 'The light ahead is red and a cyclist is crossing from the right, so slow down and stop.',
  diffusionSteps: 10,
  command,
};

await using planner = await Planner.load({ checkpoint: dir, backend: 'cpu', threads });
const ref = await planner.plan(frames, history, OPTS);
const ref2 = await planner.plan(frames, history, OPTS);
const tm = ref2.timings;
const windows: Record<string, [number, number]> = {};
let at = 0;
for (const [stage, ms] of [
  ['preprocess', tm.preprocessMs],
  ['vision', tm.visionMs],
  ['prefill', tm.prefillMs],
  ['reasoning', tm.reasoningMs],
  ['denoising', tm.actionMs],
] as const) {
  windows[stage] = [at, at + ms];
  at += ms;
}
void ref;
const lat: Record<string, number[]> = {};
const aimed: Record<string, number> = {};
for (const stage of ['vision', 'prefill', 'reasoning', 'denoising']) {
  const [lo, hi] = windows[stage] as [number, number];
  for (let i = 0; i < N; i++) {
    const c = new AbortController();
    const delay = lo + Math.random() * (hi - lo);
    let abortedAt = 0;
    const p = planner.plan(frames, history, { ...OPTS, signal: c.signal });
    const timer = setTimeout(() => {
      abortedAt = performance.now();
      c.abort();
    }, delay);
    try {
      await p;
      clearTimeout(timer); // finished before the abort fired: not counted
      continue;
    } catch (e) {
      const ms = performance.now() - abortedAt;
      const m = e instanceof AlpamayoError ? /plan aborted (during|after) ([a-z]+)/.exec(e.message) : null;
      const landed = m ? `${m[1] === 'after' ? 'between stages, after ' : ''}${m[2]}` : 'other';
      (lat[landed] ??= []).push(ms);
      aimed[stage] = (aimed[stage] ?? 0) + 1;
    }
  }
}
const pct = (xs: number[], p: number): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};
console.log(
  `abort latency, small checkpoint, ${ref2.timings.totalMs.toFixed(0)} ms plans (prompt with a ${command.length}-char command; ` +
    `preprocess ${tm.preprocessMs.toFixed(0)}, vision ${tm.visionMs.toFixed(0)}, prefill ${tm.prefillMs.toFixed(0)}, ` +
    `reasoning ${tm.reasoningMs.toFixed(0)}, denoising ${tm.actionMs.toFixed(0)} ms), ${threads} thread(s), ` +
    `${cpus()[0]?.model ?? '?'} x ${cpus().length}, Node ${process.version}; aimed: ${JSON.stringify(aimed)}`,
);
console.log('| stage the abort landed in | aborts | median ms | p99 ms | max ms |');
console.log('|---|---|---|---|---|');
for (const [stage, xs] of Object.entries(lat)) {
  console.log(`| ${stage} | ${xs.length} | ${pct(xs, 50).toFixed(1)} | ${pct(xs, 99).toFixed(1)} | ${Math.max(...xs).toFixed(1)} |`);
}

// Abort latency at random points of plans: the time from AbortController.abort() to the plan's
// rejection, by the stage the abort landed in (from the ABORTED message: "plan aborted during prefill").
// Small checkpoint, a long prompt (a command near the default 256-token limit), forced reasoning so every plan decodes the
// same number of tokens, 50 Euler steps. Each stage gets N aborts at random offsets inside that stage's
// window (measured from unaborted plans in between).
// node --import=@tapjs/typescript/import bench/abortLatency.ts [checkpointDir] [aborts per stage] [threads] [stages]
// stages: comma-separated subset of vision,prefill,reasoning,denoising (default all), to re-measure one stage.
import { cpus, loadavg } from 'node:os';
import { AlpamayoError } from '../lib/AlpamayoError.js';
import { Planner } from '../lib/Planner.js';
import { curvedEgoHistory, syntheticFrames } from '../lib/cli/syntheticScene.js';
import type { PlanOptions } from '../lib/types.js';

const dir = process.argv[2] ?? '.cache/test-checkpoints/small';
const N = Number(process.argv[3] ?? 50);
const threads = Number(process.argv[4] ?? 1);
const only = process.argv[5]?.split(',');
const t0Us = 1_700_000_000_000_000;
const frames = syntheticFrames(t0Us, 320, 180);
const history = curvedEgoHistory(t0Us);
// As long as the default maxCommandTokens (256) allows: the prompt is the fixed 16-image prompt plus it.
const command = 'keep the lane and yield to pedestrians '.repeat(6);
const OPTS: PlanOptions = {
  seed: 11,
  temperature: 0,
  // Forced reasoning, so every plan decodes the same tokens; long enough (and 50 Euler steps) that the
  // reasoning and denoising windows are as easy to hit as vision and prefill.
  maxReasoningTokens: 1024,
  reasoningTokens: 'The light ahead is red and a cyclist is crossing from the right, so slow down and stop. '.repeat(6),
  diffusionSteps: 50,
  command,
};

await using planner = await Planner.load({ checkpoint: dir, backend: 'cpu', threads });
const STAGES = ['preprocess', 'vision', 'prefill', 'reasoning', 'denoising'] as const;
type Stage = (typeof STAGES)[number];
/** Each stage's [start, end) in ms from plan() in an unaborted plan run now. */
async function windows(): Promise<Record<Stage, [number, number]>> {
  const tm = (await planner.plan(frames, history, OPTS)).timings;
  const ms = [tm.preprocessMs, tm.visionMs, tm.prefillMs, tm.reasoningMs, tm.actionMs];
  const out = {} as Record<Stage, [number, number]>;
  let at = 0;
  STAGES.forEach((s, i) => {
    out[s] = [at, at + (ms[i] as number)];
    at += ms[i] as number;
  });
  return out;
}
await windows(); // warm-up
const lat: Record<string, number[]> = {};
let trials = 0;
let finishedFirst = 0;
let lastWindows: Record<Stage, [number, number]> | undefined;
// Aim at the middle 60 % of the target stage's window (re-measured every 10 trials: this machine's
// load moves the stage boundaries), until N aborts landed in it or 4N trials were spent.
for (const stage of ['vision', 'prefill', 'reasoning', 'denoising'] as const) {
  if (only && !only.includes(stage)) continue;
  for (let i = 0; i < 4 * N && (lat[stage]?.length ?? 0) < N; i++) {
    if (i % 10 === 0) lastWindows = await windows();
    const [lo, hi] = (lastWindows as Record<Stage, [number, number]>)[stage];
    const delay = lo + (0.2 + 0.6 * Math.random()) * (hi - lo);
    const c = new AbortController();
    let abortedAt = 0;
    trials++;
    const p = planner.plan(frames, history, { ...OPTS, signal: c.signal });
    const timer = setTimeout(() => {
      abortedAt = performance.now();
      c.abort();
    }, delay);
    try {
      await p;
      clearTimeout(timer); // finished before the abort fired: not counted
      finishedFirst++;
    } catch (e) {
      const ms = performance.now() - abortedAt;
      const m = e instanceof AlpamayoError ? /plan aborted (during|after) ([a-z]+)/.exec(e.message) : null;
      const landed = m ? `${m[1] === 'after' ? 'between stages, after ' : ''}${m[2]}` : `other: ${String(e)}`;
      (lat[landed] ??= []).push(ms);
    }
  }
}
const pct = (xs: number[], p: number): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};
const w = lastWindows as Record<Stage, [number, number]>;
const span = (s: Stage): string => (w[s][1] - w[s][0]).toFixed(0);
console.log(
  `abort latency (abort() to rejection), ${dir.split('/').pop()} checkpoint, ${command.length}-char command, forced reasoning, 50 Euler steps, ${threads} thread(s); ` +
    `last reference plan: preprocess ${span('preprocess')}, vision ${span('vision')}, prefill ${span('prefill')}, reasoning ${span('reasoning')}, denoising ${span('denoising')} ms; ` +
    `${trials} aborted plans (${finishedFirst} finished before the abort fired); ${cpus()[0]?.model ?? '?'} x ${cpus().length}, load ${loadavg()[0]?.toFixed(1)}, Node ${process.version}`,
);
console.log('| stage the abort landed in | aborts | median ms | p99 ms | max ms |');
console.log('|---|---|---|---|---|');
for (const [stage, xs] of Object.entries(lat)) {
  console.log(`| ${stage} | ${xs.length} | ${pct(xs, 50).toFixed(1)} | ${pct(xs, 99).toFixed(1)} | ${Math.max(...xs).toFixed(1)} |`);
}

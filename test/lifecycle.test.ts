// Real addon, CPU backend, tiny checkpoint: queueing, cancellation, disposal, isolation, GC and exit.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AlpamayoError } from '../lib/AlpamayoError.js';
import { Planner } from '../lib/Planner.js';
import type { PlanOptions, PlanResult } from '../lib/types.js';
import { egoHistory, frames } from './fixtures/inputs.js';
import { checkpoint } from './fixtures/realCheckpoint.js';

const dir = await checkpoint('tiny');
const FAST: PlanOptions = { seed: 7, temperature: 0, maxReasoningTokens: 2, diffusionSteps: 1 };
// Long enough (256 decode steps) that a plan is reliably mid-reasoning when we act on it.
const LONG: PlanOptions = { seed: 7, temperature: 0, maxReasoningTokens: 256, diffusionSteps: 2 };
const load = (maxQueue?: number): Promise<Planner> =>
  Planner.load({ checkpoint: dir, backend: 'cpu', threads: 1, ...(maxQueue === undefined ? {} : { maxQueue }) });

async function rejection(p: Promise<unknown>): Promise<AlpamayoError> {
  try {
    await p;
  } catch (e) {
    return e as AlpamayoError;
  }
  throw new Error('expected a rejection');
}

function samePlan(t: Tap.Test, a: PlanResult, b: PlanResult, what: string): void {
  t.same(Array.from(a.samples[0]!.tokens!), Array.from(b.samples[0]!.tokens!), `${what}: tokens`);
  t.same(Array.from(a.waypoints.positions), Array.from(b.waypoints.positions), `${what}: positions bit-identical`);
}

t.test('abort: queued at once, running at the next token; planner stays usable', async (t) => {
  await using planner = await load();
  const running = new AbortController();
  const queued = new AbortController();
  let abortedAt = 0;
  let tokensAfterAbort = 0;
  let tokens = 0;
  const abortNow = (): void => {
    if (abortedAt) return;
    abortedAt = performance.now();
    running.abort();
  };
  const first = planner.plan(frames(), egoHistory(), {
    ...LONG,
    maxReasoningTokens: 4096,
    signal: running.signal,
    onToken: () => {
      // Abort from inside the token stream: the plan is certainly mid-reasoning.
      if (abortedAt) tokensAfterAbort++;
      else if (++tokens === 2) abortNow();
    },
  });
  const second = planner.plan(frames(), egoHistory(), { ...FAST, signal: queued.signal });
  t.equal(planner.pending, 2);

  const q0 = performance.now();
  queued.abort(new Error('user'));
  const qErr = await rejection(second);
  const queuedLatency = performance.now() - q0;
  t.equal(qErr.code, 'ABORTED');
  t.equal((qErr.cause as Error).message, 'user', 'signal.reason is the cause');
  t.equal(planner.pending, 1, 'the aborted job left the queue');

  // Fallback when random weights emit no visible text: vision + prefill take ~100-300 ms on tiny and
  // 4096 greedy tokens far longer, so this still lands mid-plan.
  const fallback = setTimeout(abortNow, 1500);
  const rErr = await rejection(first);
  const runningLatency = performance.now() - abortedAt;
  clearTimeout(fallback);
  t.ok(tokens >= 2 || tokensAfterAbort === 0, 'aborted from the token stream or the fallback timer');
  t.ok(rErr instanceof AlpamayoError);
  t.equal(rErr.code, 'ABORTED');
  t.equal(planner.pending, 0);
  t.comment(`abort latency: queued ${queuedLatency.toFixed(2)} ms, running ${runningLatency.toFixed(2)} ms, onToken calls after abort ${tokensAfterAbort}`);
  t.ok(queuedLatency < 20, `queued abort settles at once (${queuedLatency.toFixed(2)} ms)`);
  t.ok(runningLatency < 250, `running abort stops at the next check (${runningLatency.toFixed(2)} ms)`);

  const after = await planner.plan(frames(), egoHistory(), FAST);
  t.equal(after.waypoints.positions.length, 64 * 3, 'a plan after an abort succeeds');
  t.ok(after.waypoints.positions.every(Number.isFinite));
  // An already-aborted signal rejects before queueing.
  const pre = AbortSignal.abort();
  t.equal((await rejection(planner.plan(frames(), egoHistory(), { ...FAST, signal: pre }))).code, 'ABORTED');
  t.equal(planner.pending, 0);
});

t.test('FIFO order, pending, maxQueue -> BUSY', async (t) => {
  await using planner = await load(2);
  const order: number[] = [];
  const jobs = [0, 1, 2].map((i) => {
    const p = planner.plan(frames(), egoHistory(), i === 0 ? LONG : FAST).then((r) => {
      order.push(i);
      return r;
    });
    t.equal(planner.pending, i + 1, `pending after plan #${i}`);
    return p;
  });
  const busy = await rejection(planner.plan(frames(), egoHistory(), FAST));
  t.equal(busy.code, 'BUSY');
  t.equal(busy.field, 'maxQueue');
  t.equal(planner.pending, 3, 'a BUSY plan is not queued');
  await Promise.all(jobs);
  t.same(order, [0, 1, 2]);
  t.equal(planner.pending, 0);
});

t.test('dispose: rejects queued, aborts running, idempotent, DISPOSED afterwards', async (t) => {
  const planner = await load();
  const running = planner.plan(frames(), egoHistory(), LONG);
  const runningErr = rejection(running);
  const queued = [planner.plan(frames(), egoHistory(), FAST), planner.plan(frames(), egoHistory(), FAST)];
  const queuedErrs = queued.map(rejection);
  const d1 = planner.dispose();
  const d2 = planner.dispose();
  t.equal(d1, d2, 'dispose() returns the same promise');
  t.ok(planner.disposed);
  for (const e of await Promise.all(queuedErrs)) t.equal(e.code, 'DISPOSED');
  await d1;
  // dispose() does not wait for a whole plan (a long prefill could take seconds): the running plan is
  // aborted natively and rejects with DISPOSED.
  t.equal((await runningErr).code, 'DISPOSED', 'the running plan was aborted by dispose');
  t.equal((await rejection(planner.plan(frames(), egoHistory(), FAST))).code, 'DISPOSED');
  await planner.dispose();
  await planner[Symbol.asyncDispose]();
});

t.test('await using disposes at scope exit', async (t) => {
  let outer: Planner | undefined;
  {
    await using planner = await load();
    outer = planner;
    t.notOk(planner.disposed);
    await planner.plan(frames(), egoHistory(), FAST);
  }
  t.ok(outer.disposed);
  t.equal((await rejection(outer.plan(frames(), egoHistory(), FAST))).code, 'DISPOSED');
});

t.test('isolation: two planners at once equal each alone (greedy, fixed noise)', async (t) => {
  await using a = await load();
  await using b = await load();
  const optsA: PlanOptions = { ...LONG, maxReasoningTokens: 24, seed: 11, returnTokens: true };
  const noise = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i * 0.7));
  const optsB: PlanOptions = { ...LONG, maxReasoningTokens: 24, seed: 12, returnTokens: true, initialNoise: noise, command: 'turn left' };
  const aloneA = await a.plan(frames(), egoHistory(), optsA);
  const aloneB = await b.plan(frames(), egoHistory(), optsB);
  const [bothA, bothB] = await Promise.all([a.plan(frames(), egoHistory(), optsA), b.plan(frames(), egoHistory(), optsB)]);
  samePlan(t, aloneA, bothA, 'planner A');
  samePlan(t, aloneB, bothB, 'planner B');
  // Cross-check on the same planner: the two requests differ, so the comparison above is not vacuous.
  t.not(aloneA.waypoints.positions.join(), aloneB.waypoints.positions.join(), 'different requests give different plans');
});

const child = (script: string, args: string[], extra: string[] = []): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, [...process.execArgv, ...extra, fileURLToPath(new URL(`./fixtures/${script}`, import.meta.url)), ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });

t.test('GC: planners dropped without dispose are collected and their memory freed', async (t) => {
  const small = await checkpoint('small');
  const r = child('childGc.ts', [small, '4'], ['--expose-gc']);
  t.equal(r.signal, null, `no crash (stderr: ${String(r.stderr).slice(-500)})`);
  t.equal(r.status, 0);
  const line = String(r.stdout).trim().split('\n').pop() ?? '{}';
  const m = JSON.parse(line) as { rounds: number; collected: number; baseMb: number; peakMb: number; afterMb: number };
  t.comment(`GC child: ${line}`);
  t.equal(m.collected, m.rounds, 'every dropped planner was collected');
  // The small checkpoint is ~80 MB of fp32 weights per planner: without the native finalizer RSS would
  // keep several copies.
  t.ok(m.peakMb - m.baseMb > 40, `loading grew RSS (${m.peakMb - m.baseMb} MB)`);
  // glibc keeps some freed arenas mapped, so require a clear drop, not a return to baseline.
  t.ok(m.afterMb - m.baseMb < (m.peakMb - m.baseMb) * 0.75, `RSS dropped back after GC (${m.afterMb} MB vs base ${m.baseMb}, peak ${m.peakMb})`);
});

t.test('process.exit with a plan in flight exits cleanly', async (t) => {
  const r = child('childExit.ts', ['exit', dir]);
  t.equal(r.signal, null, `no crash (stderr: ${String(r.stderr).slice(-500)})`);
  t.equal(r.status, 0);
});

t.test('worker thread terminated with a plan in flight', async (t) => {
  // Termination races the token stream; before the fix this aborted the process about 1 run in 3.
  for (let i = 0; i < 3; i++) {
    const r = child('childExit.ts', ['worker', dir]);
    t.equal(r.signal, null, `run ${i}: no crash (stderr: ${String(r.stderr).slice(-500)})`);
    t.equal(r.status, 0);
    t.match(String(r.stdout), /worker terminated 1/);
  }
});

t.test('abort during the denoising loop stops at the next Euler step', async (t) => {
  const p = await load();
  // Forced reasoning leaves nothing to decode after the last token, so the abort lands in denoising.
  const opts: PlanOptions = { seed: 7, reasoningTokens: 'ok', diffusionSteps: 100 };
  const t0 = performance.now();
  await p.plan(frames(), egoHistory(), opts);
  const full = performance.now() - t0;
  let denoiseStart = 0;
  const ac = new AbortController();
  const running = p.plan(frames(), egoHistory(), {
    ...opts,
    signal: ac.signal,
    onToken: () => {
      // The last streamed token precedes the denoising loop; abort a little into it.
      denoiseStart = performance.now();
      setTimeout(() => ac.abort(), 5);
    },
  });
  const err = await rejection(running);
  const latency = performance.now() - denoiseStart - 5;
  t.equal(err.code, 'ABORTED');
  t.ok(latency < full / 2, `abort honoured ${latency.toFixed(1)} ms after it fired; a full plan takes ${full.toFixed(1)} ms`);
  const after = await p.plan(frames(), egoHistory(), FAST);
  t.equal(after.waypoints.positions.length, 64 * 3, 'planner still usable');
  await p.dispose();
});

import t from 'tap';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { writeTokenizerFiles } from '../lib/tokenizerFiles.js';
import { egoHistory, frames } from './fixtures/inputs.js';
import { ID, LAYOUT } from './fixtures/tokenLayout.js';

// Every test file runs in its own process, so pointing the loader at the fake addon here is local.
const fakePath = resolve('test/fixtures/fakeAddon.cjs');
process.env.ALPAMAYO_TRT_NATIVE = fakePath;
// Required once here so its shared state exists before the planner's loader requires the same module.
createRequire(import.meta.url)(fakePath);
interface FakeState {
  backends: { variant: string; cpu: true; cuda: { compiled: boolean; devices: number }; tensorrt: { compiled: boolean } };
  planDelayMs: number;
  requests: { promptIds: Int32Array; frames: Uint8Array[]; widths: Int32Array; egoHistory: Float64Array; samples: number; seed: number; forcedTokens?: Int32Array; temperature: number; topP: number; diffusionSteps: number; maxReasoningTokens: number }[];
  plannerOptions: { backend: string; precision: string; tokenIds: Record<string, number>; threads: number }[];
  disposed: number;
  running: number;
  maxRunning: number;
  reasoning: string;
}
const state = (globalThis as unknown as { __fakeAddon: FakeState }).__fakeAddon;

const { Planner } = await import('../lib/Planner.js');
const { AlpamayoError } = await import('../lib/AlpamayoError.js');

async function checkpoint(t: { testdir(): string }): Promise<string> {
  const dir = t.testdir();
  await writeTokenizerFiles(dir, LAYOUT);
  return dir;
}

t.test('load resolves backend and passes token ids and precision', async (t) => {
  const planner = await Planner.load({ checkpoint: await checkpoint(t) });
  t.equal(planner.backend, 'cpu');
  t.equal(planner.precision, 'fp32');
  t.match(planner.modelConfig, { vision_config: { patch_size: 16 } });
  const opts = state.plannerOptions.at(-1)!;
  t.equal(opts.tokenIds['<|cot_start|>'], ID['<|cot_start|>']);
  t.ok(opts.threads >= 1);
  await t.rejects(Planner.load({ checkpoint: await checkpoint(t), backend: 'cuda' }), { code: 'BACKEND_UNAVAILABLE', message: /built without CUDA/ });
  await t.rejects(Planner.load({ checkpoint: await checkpoint(t), backend: 'tensorrt' }), { code: 'BACKEND_UNAVAILABLE', message: /without TensorRT/ });
  await t.rejects(Planner.load({ checkpoint: t.testdir() }), { code: 'INVALID_CHECKPOINT', message: /tokenizer\.json/ });
  await t.rejects(Planner.load({ checkpoint: '/x', backnd: 'cpu' } as never), { code: 'INVALID_INPUT', field: 'options.backnd', message: /did you mean 'backend'/ });
  await planner.dispose();
});

t.test('plan builds the native request and maps the result', async (t) => {
  const planner = await Planner.load({ checkpoint: await checkpoint(t) });
  const tokens: string[] = [];
  const r = await planner.plan(frames(), egoHistory(), { samples: 2, seed: 7, returnActions: true, returnTokens: true, onToken: (s) => tokens.push(s) });
  const req = state.requests.at(-1)!;
  t.equal(req.samples, 2);
  t.equal(req.seed, 7);
  t.equal(req.temperature, 0.6);
  t.equal(req.topP, 0.98);
  t.equal(req.diffusionSteps, 10);
  t.equal(req.maxReasoningTokens, 256);
  t.equal(req.frames.length, 16);
  t.same(Array.from(req.widths), Array(16).fill(64));
  // cross_left first: the fixture fills camera c frame i with c*4+i; cross_left is c=2.
  t.equal(req.frames[0]![0], 8);
  t.equal(req.frames[4]![0], 0); // front_wide oldest
  t.equal(req.frames[15]![0], 7); // front_tele newest
  const ids = Array.from(req.promptIds);
  // Each frame's token count comes from the addon's smartResize (the fake's fixed 64x128 -> 8 tokens;
  // the real rule is tested in prompt.test.ts and parity.test.ts).
  t.equal(ids.filter((id) => id === ID['<|image_pad|>']).length, 16 * 8);
  const h = ids.indexOf(ID['<|traj_history_start|>']!);
  t.same(ids.slice(h + 1, h + 49), Array.from({ length: 48 }, (_, i) => 7000 + i));
  t.equal(req.egoHistory[15 * 13], 0, 't relative to t0');
  t.equal(req.egoHistory[0], -1.5);
  t.equal(r.reasoning, 'Go straight. #0');
  t.equal(r.samples[1]!.reasoning, 'Go straight. #1');
  t.equal(tokens.join(''), 'Go straight. #0');
  t.equal(r.waypoints, r.samples[0]!.waypoints);
  t.equal(r.waypoints.positions.length, 192);
  t.equal(r.samples[1]!.waypoints.positions[0], 1000 + 192, 'sample 1 slice');
  t.equal(r.waypoints.timestamps[63]!.toFixed(6), '6.400000');
  t.equal(r.actions!.accel.length, 64);
  t.equal(r.samples[1]!.actions!.accel[0], 64);
  t.equal(r.samples[1]!.actions!.normalized.length, 128);
  t.equal(r.v0, 5);
  t.equal(r.tokens!.at(-1), ID['<|traj_future_start|>']);
  t.equal(r.t0Us, 2_500_000);
  t.equal(r.seed, 7);
  t.same(r.timings, { preprocessMs: 1, visionMs: 2, prefillMs: 3, reasoningMs: 4, actionMs: 5, totalMs: 15 });
  const plain = await planner.plan(frames(), egoHistory());
  t.equal(plain.actions, undefined);
  t.equal(plain.tokens, undefined);
  t.equal(plain.samples.length, 1);
  await planner.dispose();
});

t.test('validation happens before any native work', async (t) => {
  const planner = await Planner.load({ checkpoint: await checkpoint(t) });
  const before = state.requests.length;
  const f = frames();
  await t.rejects(planner.plan({ ...f, front_wide: f.front_wide.slice(0, 3) }, egoHistory()), { code: 'INVALID_INPUT', field: 'frames.front_wide' });
  await t.rejects(planner.plan(f, egoHistory().slice(0, 15)), { code: 'INVALID_INPUT', field: 'egoHistory' });
  await t.rejects(planner.plan(f, egoHistory(), { topp: 0.5 } as never), { code: 'INVALID_INPUT', message: /did you mean 'topP'/ });
  await t.rejects(planner.plan(f, egoHistory(), { reasoningTokens: [1_000_000] }), { code: 'INVALID_INPUT', field: 'options.reasoningTokens[0]' });
  t.equal(state.requests.length, before);
  await planner.dispose();
});

t.test('forced reasoning tokens get <|traj_future_start|> appended', async (t) => {
  const planner = await Planner.load({ checkpoint: await checkpoint(t) });
  const r = await planner.plan(frames(), egoHistory(), { reasoningTokens: 'Yield<|cot_end|>', returnTokens: true });
  const forced = Array.from(state.requests.at(-1)!.forcedTokens!);
  t.same(forced, [...Buffer.from('Yield'), ID['<|cot_end|>'], ID['<|traj_future_start|>']]);
  t.equal(r.reasoning, 'Yield');
  await planner.plan(frames(), egoHistory(), { reasoningTokens: [65, ID['<|traj_future_start|>']!] });
  t.same(Array.from(state.requests.at(-1)!.forcedTokens!), [65, ID['<|traj_future_start|>']], 'not appended twice');
  await planner.dispose();
});

t.test('FIFO queue: one native plan at a time, pending, BUSY', async (t) => {
  const planner = await Planner.load({ checkpoint: await checkpoint(t), maxQueue: 2 });
  state.maxRunning = 0;
  const order: number[] = [];
  const runs = [0, 1, 2].map((i) => planner.plan(frames(), egoHistory(), { seed: i }).then((r) => order.push(r.seed)));
  t.equal(planner.pending, 3);
  await t.rejects(planner.plan(frames(), egoHistory()), { code: 'BUSY', message: /2 waiting \(maxQueue 2\)/ });
  await Promise.all(runs);
  t.same(order, [0, 1, 2]);
  t.equal(state.maxRunning, 1);
  t.equal(planner.pending, 0);
  await planner.dispose();
});

t.test('abort: queued plans leave the queue at once, running ones via native abort', async (t) => {
  state.planDelayMs = 200;
  t.teardown(() => void (state.planDelayMs = 20));
  const planner = await Planner.load({ checkpoint: await checkpoint(t) });
  const running = new AbortController();
  const queued = new AbortController();
  const first = planner.plan(frames(), egoHistory(), { signal: running.signal });
  const second = planner.plan(frames(), egoHistory(), { signal: queued.signal });
  const third = planner.plan(frames(), egoHistory());
  t.equal(planner.pending, 3);
  queued.abort();
  await t.rejects(second, { code: 'ABORTED' });
  t.equal(planner.pending, 2);
  const started = Date.now();
  running.abort();
  await t.rejects(first, { code: 'ABORTED' });
  t.ok(Date.now() - started < 150, 'running plan aborted before it would have finished');
  t.ok((await third).reasoning.length > 0, 'later plans still run');
  const already = new AbortController();
  already.abort();
  await t.rejects(planner.plan(frames(), egoHistory(), { signal: already.signal }), { code: 'ABORTED' });
  await planner.dispose();
});

t.test('a throwing onToken ends the plan with its error', async (t) => {
  const planner = await Planner.load({ checkpoint: await checkpoint(t) });
  const boom = new Error('consumer failed');
  await t.rejects(planner.plan(frames(), egoHistory(), { onToken: () => { throw boom; } }), boom);
  await planner.dispose();
});

t.test('dispose: rejects queued, waits for running, idempotent, then DISPOSED', async (t) => {
  const planner = await Planner.load({ checkpoint: await checkpoint(t) });
  const disposedBefore = state.disposed;
  const first = planner.plan(frames(), egoHistory());
  const second = planner.plan(frames(), egoHistory());
  const d1 = planner.dispose();
  const d2 = planner.dispose();
  t.equal(d1, d2);
  await t.rejects(second, { code: 'DISPOSED' });
  t.ok((await first).reasoning.length > 0, 'running plan completes');
  await d1;
  t.equal(state.disposed, disposedBefore + 1, 'native dispose called once');
  t.ok(planner.disposed);
  await t.rejects(planner.plan(frames(), egoHistory()), { code: 'DISPOSED' });
  t.ok((await planner.plan(frames(), egoHistory()).catch((e: unknown) => e)) instanceof AlpamayoError);
  await planner[Symbol.asyncDispose]();
});

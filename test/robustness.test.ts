// Issue 19: nothing a caller or a checkpoint does may crash or hang the host process, and nothing
// invalid may resolve. Cases that used to end in a signal run in a child process, 50+ times each.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AlpamayoError } from '../lib/AlpamayoError.js';
import { Planner } from '../lib/Planner.js';
import type { PlanOptions } from '../lib/types.js';
import { egoHistory, frames } from './fixtures/inputs.js';
import { checkpoint } from './fixtures/realCheckpoint.js';

const FAST: PlanOptions = { seed: 5, temperature: 0, maxReasoningTokens: 2, diffusionSteps: 1 };

async function rejection(p: Promise<unknown>): Promise<AlpamayoError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AlpamayoError) return e;
    throw new Error(`expected an AlpamayoError, got ${String(e)}`);
  }
  throw new Error('expected a rejection');
}

const child = (args: string[]): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, [...process.execArgv, '--expose-gc', fileURLToPath(new URL('./fixtures/childRobust.ts', import.meta.url)), ...args], {
    encoding: 'utf8',
    timeout: 900_000,
  });

/** A private copy of the tiny checkpoint to break. */
function copyCheckpoint(t: Tap.Test, base: string): string {
  const dir = t.testdir();
  for (const f of readdirSync(base)) copyFileSync(join(base, f), join(dir, f));
  return dir;
}

function editConfig(dir: string, edit: (c: Record<string, any>) => void): void {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, any>;
  edit(c);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
}

interface ShardEntry {
  shard: string;
  dtype: string;
  dataStart: number;
  begin: number;
}

function findTensor(dir: string, name: string): ShardEntry {
  for (const shard of readdirSync(dir).filter((f) => f.endsWith('.safetensors'))) {
    const bytes = readFileSync(join(dir, shard));
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    const e = header[name];
    if (e) return { shard, dtype: e.dtype, dataStart: 8 + n, begin: e.data_offsets[0] };
  }
  throw new Error(`tensor ${name} not found`);
}

/** Writes `value` over element `index` of tensor `name` in place. */
function poke(dir: string, name: string, index: number, value: number): void {
  const e = findTensor(dir, name);
  const path = join(dir, e.shard);
  const bytes = readFileSync(path);
  const f32 = Buffer.alloc(4);
  f32.writeFloatLE(value);
  if (e.dtype === 'F32') f32.copy(bytes, e.dataStart + e.begin + 4 * index);
  else if (e.dtype === 'BF16') f32.copy(bytes, e.dataStart + e.begin + 2 * index, 2, 4);
  else throw new Error(`poke: dtype ${e.dtype}`);
  writeFileSync(path, bytes);
}

t.test('1. transferring or posting frame buffers right after plan() never crashes (60 rounds, child process)', async (t) => {
  const r = child(['transfer', await checkpoint('tiny'), '60']);
  t.equal(r.signal, null, `no signal (stderr: ${String(r.stderr).slice(-800)})`);
  t.equal(r.status, 0);
  const m = JSON.parse(String(r.stdout).trim().split('\n').pop() ?? '{}') as { rounds: number; same: number; detached: number };
  t.equal(m.rounds, 60);
  t.equal(m.same, 60, 'every plan read the bytes the caller passed, whatever happened to the buffers after plan() returned');
  t.equal(m.detached, 20, "frameBuffers: 'transfer' detached the caller's views at once");
});

t.test("1. frameBuffers: 'transfer' rejects shared memory and keeps the caller's buffers on any other error", async (t) => {
  await using planner = await Planner.load({ checkpoint: await checkpoint('tiny'), backend: 'cpu', threads: 1 });
  const shared = frames();
  const sab = new SharedArrayBuffer(64 * 64 * 3);
  shared.front_tele[1] = { ...shared.front_tele[1]!, data: new Uint8Array(sab) };
  const e = await rejection(planner.plan(shared, egoHistory(), { ...FAST, frameBuffers: 'transfer' }));
  t.equal(e.code, 'INVALID_INPUT');
  t.equal(e.field, 'frames.front_tele[1].data');
  t.ok(shared.front_wide[0]!.data.byteLength > 0, 'nothing was transferred');
  const f = frames();
  const bad = await rejection(planner.plan(f, egoHistory(), { ...FAST, frameBuffers: 'transfer', seed: -1 }));
  t.equal(bad.code, 'INVALID_INPUT');
  t.ok(f.front_wide[0]!.data.byteLength > 0, 'a rejected plan detaches nothing');
  // One ArrayBuffer behind several frames moves once, and the views keep their offsets.
  const one = new ArrayBuffer(16 * 64 * 64 * 3);
  const packed = frames();
  let k = 0;
  for (const cam of ['front_wide', 'front_tele', 'cross_left', 'cross_right'] as const) {
    packed[cam] = packed[cam].map((fr) => {
      const view = new Uint8Array(one, k++ * 64 * 64 * 3, 64 * 64 * 3);
      view.set(fr.data);
      return { ...fr, data: view };
    });
  }
  const viaTransfer = await planner.plan(packed, egoHistory(), { ...FAST, frameBuffers: 'transfer' });
  t.equal(one.byteLength, 0, 'the shared ArrayBuffer was transferred');
  const viaCopy = await planner.plan(frames(), egoHistory(), FAST);
  t.same(viaTransfer.waypoints.positions, viaCopy.waypoints.positions, 'transfer and copy read the same bytes');
});

t.test('2. a shard truncated after load fails the plan with INVALID_CHECKPOINT, never SIGBUS (50 rounds, child process)', async (t) => {
  const r = child(['truncate', await checkpoint('tiny'), '50']);
  t.equal(r.signal, null, `no signal (stderr: ${String(r.stderr).slice(-800)})`);
  t.equal(r.status, 0, String(r.stderr).slice(-800));
  const m = JSON.parse(String(r.stdout).trim().split('\n').pop() ?? '{}') as { rounds: number; rejected: number; named: number };
  t.equal(m.rejected, 50, 'every plan rejected with INVALID_CHECKPOINT');
  t.equal(m.named, 50, 'and named the truncated shard');
});

t.test('3. prompt and reasoning lengths are bounded before any native work', async (t) => {
  await using planner = await Planner.load({ checkpoint: await checkpoint('tiny'), backend: 'cpu', threads: 1 });
  const huge = await rejection(planner.plan(frames(), egoHistory(), { ...FAST, command: 'x'.repeat(1 << 20) }));
  t.equal(huge.code, 'INVALID_INPUT');
  t.equal(huge.field, 'options.command');
  t.match(huge.message, /at most 4096 characters/);
  const long = await rejection(planner.plan(frames(), egoHistory(), { ...FAST, command: 'turn left now '.repeat(290) }));
  t.equal(long.code, 'INVALID_INPUT');
  t.equal(long.field, 'options.command');
  t.match(long.message, /at most maxCommandTokens = 256 tokens/);
  t.equal(planner.pending, 0);
  const ids = await rejection(planner.plan(frames(), egoHistory(), { ...FAST, reasoningTokens: new Array(20_000).fill(65) }));
  t.equal(ids.field, 'options.reasoningTokens');
  t.match(ids.message, /at most maxReasoningTokens = 2 tokens/);
  const over = await rejection(planner.plan(frames(), egoHistory(), { ...FAST, maxReasoningTokens: 4096, reasoningTokens: new Array(4096).fill(65) }));
  t.match(over.message, /got "4097 tokens"/, '<|traj_future_start|> counts');
  const text = await rejection(planner.plan(frames(), egoHistory(), { ...FAST, reasoningTokens: 'y'.repeat(33) }));
  t.equal(text.field, 'options.reasoningTokens');
  // Within the bounds it runs: a longer command needs a larger maxCommandTokens.
  await using roomy = await Planner.load({ checkpoint: await checkpoint('tiny'), backend: 'cpu', threads: 1, maxCommandTokens: 8000 });
  const ok = await roomy.plan(frames(), egoHistory(), { ...FAST, command: 'turn left now '.repeat(290) });
  t.ok(ok.waypoints.positions.every(Number.isFinite));
  const ctx = await rejection(Planner.load({ checkpoint: await checkpoint('tiny'), backend: 'cpu', maxCommandTokens: 2 ** 31 - 1 }));
  t.equal(ctx.code, 'INVALID_INPUT');
  t.equal(ctx.field, 'options.maxCommandTokens');
  t.match(ctx.message, /model's 262144 positions/);
});

t.test('3. abort lands inside vision and prefill; dispose does not wait for a prefill', async (t) => {
  // Tiny checkpoint, ~3000-token prompt: prefill takes long enough to aim at (bench/abortLatency.ts
  // measures the latency itself on the small checkpoint).
  await using planner = await Planner.load({ checkpoint: await checkpoint('tiny'), backend: 'cpu', threads: 1, maxCommandTokens: 4000 });
  const opts: PlanOptions = { ...FAST, command: 'keep the lane and yield to pedestrians '.repeat(80) };
  const full = await planner.plan(frames(), egoHistory(), opts);
  const { visionMs, prefillMs, preprocessMs } = full.timings;
  t.comment(`tiny, long prompt: preprocess ${preprocessMs.toFixed(0)} ms, vision ${visionMs.toFixed(0)} ms, prefill ${prefillMs.toFixed(0)} ms`);
  for (const [stage, at] of [
    ['vision', preprocessMs + visionMs / 2],
    ['prefill', preprocessMs + visionMs + prefillMs / 2],
  ] as const) {
    const c = new AbortController();
    const p = planner.plan(frames(), egoHistory(), { ...opts, signal: c.signal });
    setTimeout(() => c.abort(), at);
    const e = await rejection(p);
    t.equal(e.code, 'ABORTED');
    // "during" (not "after"): the check that fired is inside a stage's loop, not at its end.
    t.match(e.message, /plan aborted during (preprocess|vision|prefill)/, `abort aimed at ${stage}: ${e.message}`);
  }
  const running = planner.plan(frames(), egoHistory(), opts);
  const runningErr = rejection(running);
  await new Promise((r) => setTimeout(r, preprocessMs + visionMs + prefillMs / 4));
  const t0 = performance.now();
  await planner.dispose();
  const disposeMs = performance.now() - t0;
  t.equal((await runningErr).code, 'DISPOSED');
  t.comment(`dispose mid-prefill took ${disposeMs.toFixed(0)} ms (a whole prefill takes ${prefillMs.toFixed(0)} ms)`);
});

t.test('4. non-finite values never resolve; the error names where they appeared and whose fault it is', async (t) => {
  const base = await checkpoint('tiny');
  await using planner = await Planner.load({ checkpoint: base, backend: 'cpu', threads: 1 });
  const noise = new Float32Array(128).fill(3e38);
  const e = await rejection(planner.plan(frames(), egoHistory(), { ...FAST, initialNoise: noise }));
  t.equal(e.code, 'INVALID_INPUT');
  t.equal(e.field, 'options.initialNoise[0]');
  t.match(e.message, /\|v\| <= 1000/);

  const dir = copyCheckpoint(t, base);
  const tensor = 'expert.layers.0.mlp.down_proj.weight';
  poke(dir, tensor, 3, NaN);
  await using nan = await Planner.load({ checkpoint: dir, backend: 'cpu', threads: 1 });
  for (const opts of [FAST, { ...FAST, maxReasoningTokens: 16, reasoningTokens: 'go' }, { ...FAST, temperature: 0.6 }]) {
    const err = await rejection(nan.plan(frames(), egoHistory(), opts));
    t.equal(err.code, 'INVALID_CHECKPOINT', `not INVALID_INPUT: ${err.message}`);
    t.match(err.message, new RegExp(`tensor ${tensor.replace(/\./g, '\\.')}: non-finite value nan at element 3`));
  }
});

t.test('5. config.json is checked against the tensors and the chat template at load', async (t) => {
  const base = await checkpoint('tiny');
  const cases: [string, (dir: string) => void, RegExp][] = [
    ['n_waypoints 32', (d) => editConfig(d, (c) => (c.action_space_cfg = { ...(c.action_space_cfg ?? {}), n_waypoints: 32 })), /config\.json: action_space_cfg\.n_waypoints: expected 64.*got 32/],
    ['one expert layer over two', (d) => editConfig(d, (c) => (c.expert_cfg.num_hidden_layers = 1)), /config\.json: expert_cfg\.num_hidden_layers: the checkpoint holds \d+ tensor\(s\) the model this config describes never reads \('expert\.layers\.1\./],
    ['one vision block over more', (d) => editConfig(d, (c) => {
      c.vlm_config.vision_config.depth = 1;
      c.vlm_config.vision_config.deepstack_visual_indexes = [0];
    }), /vision_config\.(depth|deepstack_visual_indexes)/],
    ['template syntax error', (d) => writeFileSync(join(d, 'chat_template.jinja'), '{% for m in messages %}{{ m.content }'), /chat_template\.jinja: chat template: rendering failed/],
    ['unknown tensor', (d) => {
      const name = readdirSync(d).find((f) => f.endsWith('.safetensors'))!;
      const bytes = readFileSync(join(d, name));
      const n = Number(bytes.readBigUInt64LE(0));
      const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, any>;
      const data = bytes.subarray(8 + n);
      header['extra.unused.weight'] = { dtype: 'F32', shape: [1], data_offsets: [data.length, data.length + 4] };
      const h = Buffer.from(JSON.stringify(header));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(h.length));
      writeFileSync(join(d, name), Buffer.concat([len, h, data, Buffer.alloc(4)]));
      const index = JSON.parse(readFileSync(join(d, 'model.safetensors.index.json'), 'utf8'));
      index.weight_map['extra.unused.weight'] = name;
      writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify(index));
    }, /never reads \('extra\.unused\.weight'\)/],
  ];
  for (const [what, breakIt, message] of cases) {
    const dir = copyCheckpoint(t, base);
    breakIt(dir);
    const e = await rejection(Planner.load({ checkpoint: dir, backend: 'cpu', threads: 1 }));
    t.equal(e.code, 'INVALID_CHECKPOINT', what);
    t.match(e.message, message, `${what}: ${e.message}`);
  }
});

t.test('6. misaligned clocks reject naming the field, expected and actual; checkClocks: false relaxes it', async (t) => {
  await using planner = await Planner.load({ checkpoint: await checkpoint('tiny'), backend: 'cpu', threads: 1 });
  const aligned = await planner.plan(frames(), egoHistory(), FAST);
  const poses1s = egoHistory().map((p, i) => ({ ...p, timestampUs: i * 1_000_000 }));
  const odo100Hz = egoHistory().map((p, i) => ({ ...p, timestampUs: 2_350_000 + i * 10_000 }));
  const hourLater = frames();
  for (const cam of Object.keys(hourLater) as (keyof typeof hourLater)[]) hourLater[cam] = hourLater[cam].map((f) => ({ ...f, timestampUs: f.timestampUs + 3_600e6 }));
  const cameraBehind = frames();
  cameraBehind.front_tele = cameraBehind.front_tele.map((f) => ({ ...f, timestampUs: f.timestampUs - 10e6 }));
  const cases = [
    ['poses 1 s apart', frames(), poses1s, 'egoHistory[1].timestampUs', /expected 100000 ± 20000 µs.*got 1000000/],
    ['100 Hz odometry', frames(), odo100Hz, 'egoHistory[1].timestampUs', /a step of 10000 µs/],
    ['frames 1 h after t0', hourLater, egoHistory(), 'frames.cross_left[0].timestampUs', /expected 2200000 ± 50000 µs/],
    ['one camera 10 s behind', cameraBehind, egoHistory(), 'frames.front_tele[0].timestampUs', /-10\.3 s from t0/],
  ] as const;
  for (const [what, f, h, field, message] of cases) {
    const e = await rejection(planner.plan(f, h, FAST));
    t.equal(e.code, 'INVALID_INPUT', what);
    t.equal(e.field, field, what);
    t.match(e.message, message, what);
    t.ok(e.expected !== undefined && e.actual !== undefined, `${what}: expected and actual set`);
    const relaxed = await planner.plan(f, h, { ...FAST, checkClocks: false });
    t.ok(relaxed.waypoints.positions.every(Number.isFinite), `${what}: accepted with checkClocks: false`);
  }
  t.same((await planner.plan(frames(), egoHistory(), { ...FAST, checkClocks: false })).waypoints.positions, aligned.waypoints.positions, 'the check changes nothing for aligned input');
});

t.test('7. a throwing or rejecting onToken aborts the plan with ABORTED and the error as cause', async (t) => {
  await using planner = await Planner.load({ checkpoint: await checkpoint('tiny'), backend: 'cpu', threads: 1 });
  const unhandled: unknown[] = [];
  const onUnhandled = (r: unknown): void => void unhandled.push(r);
  process.on('unhandledRejection', onUnhandled);
  const forced: PlanOptions = { ...FAST, maxReasoningTokens: 64, reasoningTokens: 'hello world, this is a forced reasoning' };
  const boom = new TypeError('boom');
  const sync = await rejection(planner.plan(frames(), egoHistory(), { ...forced, onToken: () => { throw boom; } }));
  t.equal(sync.code, 'ABORTED');
  t.equal(sync.field, 'options.onToken');
  t.equal(sync.cause, boom);
  t.match(sync.message, /onToken threw TypeError: boom/);
  const asyncBoom = new Error('async boom');
  const rejected = await rejection(planner.plan(frames(), egoHistory(), { ...forced, onToken: async () => { throw asyncBoom; } }));
  t.equal(rejected.code, 'ABORTED');
  t.equal(rejected.cause, asyncBoom);
  const fine = await planner.plan(frames(), egoHistory(), { ...forced, onToken: async () => {} });
  t.ok(fine.waypoints.positions.every(Number.isFinite), 'a resolving async onToken is fine');
  await new Promise((r) => setTimeout(r, 50));
  process.off('unhandledRejection', onUnhandled);
  t.same(unhandled, [], 'no unhandled rejection');
});

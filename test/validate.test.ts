import t from 'tap';
import { validateFrames } from '../lib/validateFrames.js';
import { validateEgoHistory, packEgoHistory } from '../lib/validateEgoHistory.js';
import { validatePlanOptions } from '../lib/validatePlanOptions.js';
import { validateLoadOptions } from '../lib/validateLoadOptions.js';
import { egoHistory, frame, frames, rotZ } from './fixtures/inputs.js';

type Tap = typeof t;

function bad(t: Tap, fn: () => unknown, field: string, message: RegExp): void {
  t.throws(fn, { name: 'AlpamayoError', code: 'INVALID_INPUT', field, message }, `${field} ${message}`);
}

t.test('valid inputs pass and come back in model camera order', async (t) => {
  const f = frames();
  const ordered = validateFrames(f);
  t.equal(ordered.length, 16);
  // cross_left, front_wide, cross_right, front_tele; camera-major, oldest first.
  t.equal(ordered[0], f.cross_left[0]);
  t.equal(ordered[3], f.cross_left[3]);
  t.equal(ordered[4], f.front_wide[0]);
  t.equal(ordered[8], f.cross_right[0]);
  t.equal(ordered[15], f.front_tele[3]);
  t.equal(validateEgoHistory(egoHistory()).length, 16);
});

t.test('frames: cameras', async (t) => {
  const f = frames() as unknown as Record<string, unknown>;
  bad(t, () => validateFrames({ ...f, front: [] }), 'frames.front', /unknown camera; did you mean 'front_wide'\?/);
  const missing = { ...f };
  delete missing.cross_right;
  bad(t, () => validateFrames(missing), 'frames.cross_right', /expected an array of 4 frames \(camera missing\), got undefined/);
  bad(t, () => validateFrames(null), 'frames', /expected an object with cameras/);
});

t.test('frames: count', async (t) => {
  const f = frames();
  bad(t, () => validateFrames({ ...f, front_tele: f.front_tele.slice(0, 3) }), 'frames.front_tele', /exactly 4 frames.*got an array of length 3/);
});

t.test('frames: data type, length, detached', async (t) => {
  const f = frames();
  const withFrame = (i: number, fr: unknown) => ({ ...f, front_wide: f.front_wide.map((x, k) => (k === i ? fr : x)) });
  bad(t, () => validateFrames(withFrame(2, { ...frame(1_200_000), data: new Float32Array(64 * 64 * 3) })), 'frames.front_wide[2].data', /expected a Uint8Array of RGB bytes, got a Float32Array/);
  bad(t, () => validateFrames(withFrame(2, { ...frame(1_200_000), data: Array(64 * 64 * 3).fill(0) })), 'frames.front_wide[2].data', /Uint8Array/);
  bad(t, () => validateFrames(withFrame(1, { ...frame(1_100_000), data: new Uint8Array(64 * 64 * 3 - 1) })), 'frames.front_wide[1].data', /length width\*height\*3 = 64\*64\*3 = 12288, got 12287/);
  const detached = frame(1_200_000);
  structuredClone(detached.data.buffer, { transfer: [detached.data.buffer] });
  bad(t, () => validateFrames(withFrame(2, detached)), 'frames.front_wide[2].data', /detached/);
});

t.test('frames: width and height', async (t) => {
  const f = frames();
  const withFrame = (fr: unknown) => ({ ...f, cross_left: [fr, ...f.cross_left.slice(1)] });
  bad(t, () => validateFrames(withFrame({ ...frame(1_000_000), width: 64.5 })), 'frames.cross_left[0].width', /integer >= 1, got 64.5/);
  bad(t, () => validateFrames(withFrame({ ...frame(1_000_000), height: 0 })), 'frames.cross_left[0].height', /integer >= 1, got 0/);
  bad(t, () => validateFrames(withFrame({ ...frame(1_000_000), width: '64' })), 'frames.cross_left[0].width', /got "64"/);
});

t.test('frames: timestamps', async (t) => {
  const f = frames();
  const swapped = [f.front_wide[0], f.front_wide[2], f.front_wide[1], f.front_wide[3]];
  bad(t, () => validateFrames({ ...f, front_wide: swapped }), 'frames.front_wide[2].timestampUs', /strictly increasing/);
  const equal = [f.front_wide[0], f.front_wide[0], f.front_wide[2], f.front_wide[3]];
  bad(t, () => validateFrames({ ...f, front_wide: equal }), 'frames.front_wide[1].timestampUs', /expected > 1000000/);
  const nan = [f.front_wide[0], { ...frame(0), timestampUs: NaN }, f.front_wide[2], f.front_wide[3]];
  bad(t, () => validateFrames({ ...f, front_wide: nan }), 'frames.front_wide[1].timestampUs', /finite number, got NaN/);
});

t.test('ego history: count, timestamps, finiteness', async (t) => {
  const h = egoHistory();
  bad(t, () => validateEgoHistory(h.slice(1)), 'egoHistory', /exactly 16 poses.*got an array of length 15/);
  const back = h.map((p, i) => (i === 5 ? { ...p, timestampUs: h[3]!.timestampUs } : p));
  bad(t, () => validateEgoHistory(back), 'egoHistory[5].timestampUs', /strictly increasing/);
  const nanPos = h.map((p, i) => (i === 7 ? { ...p, position: [0, NaN, 0] } : p));
  bad(t, () => validateEgoHistory(nanPos), 'egoHistory[7].position[1]', /finite number, got NaN/);
  const infRot = h.map((p, i) => (i === 2 ? { ...p, rotation: [Infinity, 0, 0, 0, 1, 0, 0, 0, 1] } : p));
  bad(t, () => validateEgoHistory(infRot), 'egoHistory[2].rotation[0]', /finite number, got Infinity/);
  const shortRot = h.map((p, i) => (i === 2 ? { ...p, rotation: [1, 0, 0, 0, 1, 0] } : p));
  bad(t, () => validateEgoHistory(shortRot), 'egoHistory[2].rotation', /array of 9 finite numbers/);
});

t.test('ego history: rotations must be proper and orthonormal within 1e-3', async (t) => {
  const h = egoHistory();
  const scaled = h.map((p, i) => (i === 4 ? { ...p, rotation: rotZ(0.3).map((v) => v * 1.01) } : p));
  bad(t, () => validateEgoHistory(scaled), 'egoHistory[4].rotation', /orthonormal.*max \|R R\^T - I\| = 0\.0201/);
  const reflection = h.map((p, i) => (i === 4 ? { ...p, rotation: [1, 0, 0, 0, 1, 0, 0, 0, -1] } : p));
  bad(t, () => validateEgoHistory(reflection), 'egoHistory[4].rotation', /det \+1.*det = -1\.000/);
  // Within tolerance passes: a 5e-4 perturbation.
  const near = h.map((p, i) => (i === 4 ? { ...p, rotation: [1 + 4e-4, 0, 0, 0, 1, 0, 0, 0, 1] } : p));
  t.doesNotThrow(() => validateEgoHistory(near));
});

t.test('ego history is expressed in the t0 frame', async (t) => {
  // Ego at t0 sits at (10, 5, 1) facing +y (yaw 90°); an earlier pose 2 m behind it is at (10, 3, 1).
  const h = egoHistory().map((p, i) => ({ ...p, position: [10, 5 - (15 - i) * 2, 1], rotation: rotZ(Math.PI / 2) }));
  const packed = packEgoHistory(validateEgoHistory(h));
  t.equal(packed.length, 16 * 13);
  // Row 14: t = -0.1 s, position 2 m behind along the ego x axis.
  t.ok(Math.abs(packed[14 * 13]! - -0.1) < 1e-12);
  t.ok(Math.abs(packed[14 * 13 + 1]! - -2) < 1e-12, `x ${packed[14 * 13 + 1]}`);
  t.ok(Math.abs(packed[14 * 13 + 2]!) < 1e-12);
  t.ok(Math.abs(packed[14 * 13 + 3]!) < 1e-12);
  // Last row: origin, identity.
  t.same(Array.from(packed.subarray(15 * 13, 15 * 13 + 4)), [0, 0, 0, 0]);
  const rot = Array.from(packed.subarray(15 * 13 + 4, 16 * 13));
  [1, 0, 0, 0, 1, 0, 0, 0, 1].forEach((v, k) => t.ok(Math.abs(rot[k]! - v) < 1e-12));
});

t.test('plan options: defaults', async (t) => {
  const o = validatePlanOptions(undefined);
  t.match(o, { samples: 1, diffusionSteps: 10, maxReasoningTokens: 256, temperature: 0.6, topP: 0.98, returnActions: false, returnTokens: false });
  t.ok(Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32);
  t.equal(validatePlanOptions({ seed: 2 ** 32 - 1, temperature: 0 }).seed, 2 ** 32 - 1);
});

t.test('plan options: unknown keys suggest the close match', async (t) => {
  bad(t, () => validatePlanOptions({ topp: 0.9 }), 'options.topp', /unknown option; did you mean 'topP'\?/);
  bad(t, () => validatePlanOptions({ sample: 2 }), 'options.sample', /did you mean 'samples'\?/);
  bad(t, () => validatePlanOptions({ zzzzzzzz: 1 }), 'options.zzzzzzzz', /unknown option \(known: command, samples/);
});

t.test('plan options: ranges and types', async (t) => {
  bad(t, () => validatePlanOptions({ samples: 0 }), 'options.samples', /integer in 1\.\.16, got 0/);
  bad(t, () => validatePlanOptions({ samples: 17 }), 'options.samples', /got 17/);
  bad(t, () => validatePlanOptions({ samples: 1.5 }), 'options.samples', /got 1.5/);
  bad(t, () => validatePlanOptions({ seed: -1 }), 'options.seed', /integer in 0\.\.4294967295, got -1/);
  bad(t, () => validatePlanOptions({ seed: 2 ** 32 }), 'options.seed', /got 4294967296/);
  bad(t, () => validatePlanOptions({ diffusionSteps: 101 }), 'options.diffusionSteps', /1\.\.100/);
  bad(t, () => validatePlanOptions({ maxReasoningTokens: 4097 }), 'options.maxReasoningTokens', /1\.\.4096/);
  bad(t, () => validatePlanOptions({ temperature: -0.1 }), 'options.temperature', />= 0/);
  bad(t, () => validatePlanOptions({ temperature: Infinity }), 'options.temperature', /got Infinity/);
  bad(t, () => validatePlanOptions({ topP: 0 }), 'options.topP', /\(0, 1\], got 0/);
  bad(t, () => validatePlanOptions({ topP: 1.01 }), 'options.topP', /got 1.01/);
  bad(t, () => validatePlanOptions({ command: 5 }), 'options.command', /a string/);
  bad(t, () => validatePlanOptions({ returnActions: 'yes' }), 'options.returnActions', /a boolean/);
  bad(t, () => validatePlanOptions({ signal: {} }), 'options.signal', /an AbortSignal, got an object/);
  bad(t, () => validatePlanOptions({ onToken: 'log' }), 'options.onToken', /a function/);
});

t.test('plan options: initialNoise', async (t) => {
  bad(t, () => validatePlanOptions({ samples: 2, initialNoise: new Float32Array(128) }), 'options.initialNoise', /length samples\*64\*2 = 256, got 128/);
  bad(t, () => validatePlanOptions({ initialNoise: new Float64Array(128) }), 'options.initialNoise', /Float32Array/);
  const noise = new Float32Array(128);
  noise[77] = NaN;
  bad(t, () => validatePlanOptions({ initialNoise: noise }), 'options.initialNoise[77]', /finite/);
  t.equal(validatePlanOptions({ samples: 2, initialNoise: new Float32Array(256) }).initialNoise?.length, 256);
});

t.test('plan options: reasoningTokens', async (t) => {
  bad(t, () => validatePlanOptions({ reasoningTokens: 42 }), 'options.reasoningTokens', /a string or an array of integer token ids/);
  bad(t, () => validatePlanOptions({ reasoningTokens: [1, 2.5] }), 'options.reasoningTokens[1]', /integer/);
  bad(t, () => validatePlanOptions({ reasoningTokens: [] }), 'options.reasoningTokens', /non-empty/);
  t.same(validatePlanOptions({ reasoningTokens: Int32Array.of(5, 6) }).reasoningTokens, [5, 6]);
  t.equal(validatePlanOptions({ reasoningTokens: 'slow down' }).reasoningTokens, 'slow down');
});

t.test('load options', async (t) => {
  const o = validateLoadOptions({ checkpoint: '/ckpt' });
  t.match(o, { checkpoint: '/ckpt', backend: 'auto', device: 0, maxQueue: 64 });
  t.ok(o.threads >= 1, 'threads 0 resolves to the core count');
  bad(t, () => validateLoadOptions({}), 'options.checkpoint', /checkpoint directory path/);
  bad(t, () => validateLoadOptions({ checkpoint: 3 }), 'options.checkpoint', /got 3/);
  bad(t, () => validateLoadOptions({ checkpoint: '/c', backend: 'gpu' }), 'options.backend', /one of auto, cpu, cuda, tensorrt, got "gpu"/);
  bad(t, () => validateLoadOptions({ checkpoint: '/c', precision: 'int4' }), 'options.precision', /one of fp32, bf16, fp16, fp8/);
  bad(t, () => validateLoadOptions({ checkpoint: '/c', device: -1 }), 'options.device', /integer >= 0, got -1/);
  bad(t, () => validateLoadOptions({ checkpoint: '/c', device: 0.5 }), 'options.device', /got 0.5/);
  bad(t, () => validateLoadOptions({ checkpoint: '/c', maxQueue: -1 }), 'options.maxQueue', /integer >= 0/);
  bad(t, () => validateLoadOptions({ checkpoint: '/c', engine: '/e' }), 'options.engine', /did you mean 'engines'\?/);
  bad(t, () => validateLoadOptions('/c'), 'options', /load options object/);
});

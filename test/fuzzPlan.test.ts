// Seeded fuzzing of Planner.plan() through the real addon: every malformed input must reject with an
// AlpamayoError naming the broken part, never crash, never run. Reproduce a failure with
// ALPAMAYO_FUZZ_SEED=<seed> (printed) and the case index in the assertion message.
import t from 'tap';
import { AlpamayoError } from '../lib/AlpamayoError.js';
import { Planner } from '../lib/Planner.js';
import { egoHistory, frames, rotZ } from './fixtures/inputs.js';
import { checkpoint } from './fixtures/realCheckpoint.js';

const SEED = Number(process.env.ALPAMAYO_FUZZ_SEED ?? 0x5eed);
const CASES = Number(process.env.ALPAMAYO_FUZZ_CASES ?? 10_000);
const CAMS = ['front_wide', 'front_tele', 'cross_left', 'cross_right'] as const;

/** mulberry32: tiny, seedable, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Any = Record<string, any>;
interface Case {
  frames: any;
  ego: any;
  options: any;
  /** Which argument is broken: the error's field must start with it. */
  area: 'frames' | 'egoHistory' | 'options';
  what: string;
}

const detachedU8 = (n: number): Uint8Array => {
  const a = new Uint8Array(n);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
};
const detachedF32 = (n: number): Float32Array => {
  const a = new Float32Array(n);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
};

function makeCase(r: () => number): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const int = (n: number): number => Math.floor(r() * n);
  const f: Any = frames();
  const e: Any[] = egoHistory();
  const o: Any = { maxReasoningTokens: 1, diffusionSteps: 1, temperature: 0 };
  const cam = pick(CAMS);
  const i = int(4);
  const k = int(16);
  const notNumber = [NaN, Infinity, -Infinity, '64', null, undefined, {}, [], true, 10n, Symbol('x')];
  const nonFinite = [NaN, Infinity, -Infinity, '1', null, undefined, {}, true];
  const junk = [null, undefined, 0, -1, 'x', true, [], {}, new Map(), new Date(), () => 1, Symbol('s'), 1n];
  const c = (area: Case['area'], what: string): Case => ({ frames: f, ego: e, options: o, area, what });
  switch (int(41)) {
    case 0: return { ...c('frames', 'frames junk'), frames: pick(junk.filter((x) => typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Date)) };
    case 1: delete f[cam]; return c('frames', `missing ${cam}`);
    case 2: f[pick(['front', 'rear', 'frontwide', 'FRONT_WIDE', '__proto__x', 'x'.repeat(1 + int(40))])] = f[cam]; return c('frames', 'extra camera');
    case 3: f[cam] = pick([[], f[cam].slice(0, int(4)), [...f[cam], f[cam][0]], 'x', null, 4, {}]); return c('frames', 'camera list');
    case 4: f[cam][i] = pick(junk.filter((x) => x === null || typeof x !== 'object' || Array.isArray(x))); return c('frames', 'frame junk');
    case 5: f[cam][i] = { ...f[cam][i], width: pick([...notNumber, 0, -64, 63, 64.5, 2 ** 53, 1e308, -0]) }; return c('frames', 'width');
    case 6: f[cam][i] = { ...f[cam][i], height: pick([...notNumber, 0, -64, 63, 64.5, 2 ** 31, 1e308]) }; return c('frames', 'height');
    case 7: f[cam][i] = { ...f[cam][i], width: 64 + 1 + int(1000) }; return c('frames', 'width/data mismatch');
    case 8: f[cam][i] = { ...f[cam][i], data: new Uint8Array(64 * 64 * 3 + pick([-1, 1, -3, 3, -(64 * 64 * 3)])) }; return c('frames', 'data length');
    case 9: f[cam][i] = { ...f[cam][i], data: pick([new Uint16Array(64 * 64 * 3), new Int8Array(64 * 64 * 3), new Uint8ClampedArray(64 * 64 * 3), new Float32Array(64 * 64 * 3), Array.from({ length: 12 }, () => 0), 'rgb', null, new ArrayBuffer(64 * 64 * 3), new DataView(new ArrayBuffer(12))]) }; return c('frames', 'data type');
    case 10: f[cam][i] = { ...f[cam][i], data: detachedU8(64 * 64 * 3) }; return c('frames', 'detached data');
    case 11: f[cam][i] = { ...f[cam][i], timestampUs: pick(nonFinite) }; return c('frames', 'frame timestamp');
    case 12: { const j = 1 + int(3); f[cam][j] = { ...f[cam][j], timestampUs: f[cam][j - 1].timestampUs - int(2) * 100_000 }; return c('frames', 'non-monotonic frame timestamps'); }
    case 13: { const sub = f[cam].slice(); sub.reverse(); f[cam] = sub; return c('frames', 'frames newest first'); }
    case 14: return { ...c('egoHistory', 'ego junk'), ego: pick([null, undefined, 1, 'x', {}, e.slice(0, int(16)), [...e, e[0]], new Float64Array(16 * 13)]) };
    case 15: e[k] = pick(junk.filter((x) => x === null || typeof x !== 'object' || Array.isArray(x))); return c('egoHistory', 'pose junk');
    case 16: e[k] = { ...e[k], timestampUs: pick(nonFinite) }; return c('egoHistory', 'pose timestamp');
    case 17: { const j = 1 + int(15); e[j] = { ...e[j], timestampUs: e[j - 1].timestampUs - int(3) * 50_000 }; return c('egoHistory', 'non-monotonic pose timestamps'); }
    case 18: e[k] = { ...e[k], position: pick([[0, 0], [0, 0, 0, 0], [NaN, 0, 0], [0, Infinity, 0], [0, 0, -Infinity], ['0', 0, 0], null, 'xyz', {}]) }; return c('egoHistory', 'position');
    case 19: { const rot = rotZ(r() * 6).slice(); rot[int(9)] += pick([0.01, -0.5, 2, 1e9]); e[k] = { ...e[k], rotation: rot }; return c('egoHistory', 'non-orthonormal rotation'); }
    case 20: e[k] = { ...e[k], rotation: [1, 0, 0, 0, 1, 0, 0, 0, -1] }; return c('egoHistory', 'reflection (det -1)');
    case 21: e[k] = { ...e[k], rotation: pick([rotZ(0).slice(0, 8), [...rotZ(0), 0], [NaN, 0, 0, 0, 1, 0, 0, 0, 1], null, new Float64Array(9), 'I']) }; return c('egoHistory', 'rotation shape');
    case 22: e[k] = { ...e[k], position: [1e308 * 10, 0, 0] }; return c('egoHistory', 'overflowing position');
    case 23: return { ...c('options', 'options junk'), options: pick([null, 1, 'fast', [], true, Symbol('o'), new Uint8Array(2)]) };
    case 24: o[pick(['sample', 'steps', 'temp', 'top_p', 'seeds', 'onTokens', 'abort', 'x'.repeat(1 + int(20))])] = 1; return c('options', 'unknown key');
    case 25: o.samples = pick([0, 17, -1, 1.5, NaN, Infinity, '2', null, 2 ** 40]); return c('options', 'samples');
    case 26: o.seed = pick([-1, 2 ** 32, 1.5, NaN, -Infinity, '7', null, 2 ** 53 + 2]); return c('options', 'seed');
    case 27: o.diffusionSteps = pick([0, 101, 1.5, NaN, Infinity, -3, '10', null]); return c('options', 'diffusionSteps');
    case 28: o.maxReasoningTokens = pick([0, 4097, 2 ** 31, 1.5, NaN, -1, '1', null]); return c('options', 'maxReasoningTokens');
    case 29:
      if (r() < 0.5) o.temperature = pick([-1, -1e-9, NaN, Infinity, -Infinity, '0.5', null, {}]);
      else o.topP = pick([0, -1, 1.0001, 2, NaN, Infinity, '0.5', null]);
      return c('options', 'temperature/topP');
    case 30: { const n = 128 + pick([-1, 1, -128, 128]); o.initialNoise = pick([new Float32Array(n), new Float64Array(128), Array(128).fill(0), detachedF32(128), Float32Array.from({ length: 128 }, (_, j) => (j === int(128) ? pick([NaN, Infinity, -Infinity]) : 0))]); if (o.initialNoise instanceof Float32Array && o.initialNoise.length === 128 && !o.initialNoise.some((v: number) => !Number.isFinite(v)) && o.initialNoise.byteLength > 0) o.initialNoise = new Float32Array(127); return c('options', 'initialNoise'); }
    case 31: o.reasoningTokens = pick([[], [-1], [1.5], [NaN], ['a'], {}, 5, null, new Float32Array(3), [2 ** 31], [1e6], Int32Array.of(1, 2, 9_999_999)]); return c('options', 'reasoningTokens');
    case 32: o[pick(['returnActions', 'returnTokens'])] = pick(['yes', 1, 0, null, {}]); return c('options', 'boolean flags');
    // Issue 19: clocks, unbounded work, overflowing noise, the new options.
    case 34: { const step = pick([10_000, 50_000, 79_000, 121_000, 1_000_000]); e.forEach((p, j) => (e[j] = { ...p, timestampUs: 2_500_000 - (15 - j) * step })); return c('egoHistory', 'pose period not 10 Hz'); }
    case 35: { const shift = pick([3_600e6, -10e6, 60_000, -75_000, 1e12]); for (const k of CAMS) f[k] = f[k].map((x: Any) => ({ ...x, timestampUs: x.timestampUs + shift })); return c('frames', 'frames off t0'); }
    case 36: f[cam] = f[cam].map((x: Any, j: number) => ({ ...x, timestampUs: 2_500_000 - (3 - j) * pick([33_333, 200_000, 10_000]) })); return c('frames', 'one camera at another rate');
    case 37: o.command = pick(['x', 'turn left ', '\u{1F697}']).repeat(5000 + int(200_000)); return c('options', 'command too long');
    case 38: o.reasoningTokens = r() < 0.5 ? Array.from({ length: 2 + int(30_000) }, () => 65) : 'go '.repeat(6 + int(10_000)); return c('options', 'reasoningTokens over maxReasoningTokens');
    case 39: { const n = new Float32Array(128); n[int(128)] = pick([1001, -2e4, 3e38, -3.4e38, 1e10]); o.initialNoise = n; return c('options', 'initialNoise out of range'); }
    case 40: if (r() < 0.5) o.frameBuffers = pick(['move', 'Copy', 1, null, true, {}]); else o.checkClocks = pick(['yes', 0, 1, null, {}]); return c('options', 'frameBuffers/checkClocks');
    default: o[pick(['signal', 'onToken', 'command'])] = pick([{}, 'abort', 1, { aborted: false, addEventListener() {} }, Symbol('s')]); if (typeof o.command === 'string') o.command = 1; return c('options', 'signal/onToken/command');
  }
}

t.test(`${CASES} malformed plan() inputs reject with AlpamayoError (seed ${SEED})`, async (t) => {
  const dir = await checkpoint('tiny');
  await using planner = await Planner.load({ checkpoint: dir, backend: 'cpu', threads: 1 });
  const r = rng(SEED);
  const codes: Record<string, number> = {};
  const byWhat: Record<string, number> = {};
  let failures = 0;
  for (let n = 0; n < CASES; n++) {
    const c = makeCase(r);
    let err: unknown;
    let resolved = false;
    try {
      await planner.plan(c.frames, c.ego, c.options);
      resolved = true;
    } catch (e) {
      err = e;
    }
    const ok =
      !resolved &&
      err instanceof AlpamayoError &&
      err.code === 'INVALID_INPUT' &&
      typeof err.field === 'string' &&
      err.field.startsWith(c.area) &&
      err.message.includes(err.field);
    codes[resolved ? 'RESOLVED' : err instanceof AlpamayoError ? err.code : `non-AlpamayoError ${String(err)}`] =
      (codes[resolved ? 'RESOLVED' : err instanceof AlpamayoError ? err.code : `non-AlpamayoError ${String(err)}`] ?? 0) + 1;
    byWhat[c.what] = (byWhat[c.what] ?? 0) + 1;
    if (!ok && failures++ < 20) {
      t.fail(`case ${n} (${c.what}, ${c.area}): ${resolved ? 'resolved' : `${(err as AlpamayoError)?.code} ${(err as Error)?.message} field=${(err as AlpamayoError)?.field}`}`);
    }
  }
  t.comment(`codes: ${JSON.stringify(codes)}`);
  t.comment(`mutations: ${Object.keys(byWhat).length} kinds, ${JSON.stringify(byWhat)}`);
  t.equal(failures, 0, `all ${CASES} cases rejected with INVALID_INPUT naming the field`);
  t.ok(Object.keys(byWhat).length >= 30, 'every mutation kind was drawn');
  t.equal(planner.pending, 0, 'nothing was queued');
  // The planner still works after the barrage.
  const ok = await planner.plan(frames(), egoHistory(), { maxReasoningTokens: 1, diffusionSteps: 1, temperature: 0, seed: 1 });
  t.equal(ok.waypoints.positions.length, 192);
});

t.test('a frame buffer detached while the plan waits in the queue is caught natively', async (t) => {
  const dir = await checkpoint('tiny');
  await using planner = await Planner.load({ checkpoint: dir, backend: 'cpu', threads: 1 });
  const first = planner.plan(frames(), egoHistory(), { maxReasoningTokens: 64, diffusionSteps: 1, temperature: 0, seed: 1 });
  const f = frames();
  const queued = planner.plan(f, egoHistory(), { maxReasoningTokens: 1, diffusionSteps: 1, temperature: 0, seed: 1 });
  const data = f.front_tele[2]!.data;
  structuredClone(data.buffer, { transfer: [data.buffer] });
  await first;
  const err = await queued.then(
    () => undefined,
    (e: unknown) => e as AlpamayoError,
  );
  t.ok(err instanceof AlpamayoError);
  t.equal(err?.code, 'INVALID_INPUT');
  t.match(err?.message ?? '', /frames\[\d+\].*detached/);
  t.equal((await planner.plan(frames(), egoHistory(), { maxReasoningTokens: 1, diffusionSteps: 1, temperature: 0, seed: 1 })).waypoints.positions.length, 192);
});

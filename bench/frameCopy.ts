// What plan()'s frame copy costs on the JS thread: the synchronous part of plan() (validation, prompt,
// frame hand-off) with 16 frames of 1920x1080, frameBuffers 'copy' (default) vs 'transfer' (zero-copy),
// next to a bare memcpy of the same 99.5 MB. The plans themselves run on the tiny checkpoint.
// node --import=@tapjs/typescript/import bench/frameCopy.ts [checkpointDir] [plans per mode]
import { cpus } from 'node:os';
import { Planner } from '../lib/Planner.js';
import { curvedEgoHistory } from '../lib/cli/syntheticScene.js';
import type { Frames, PlanOptions } from '../lib/types.js';
import { MODEL_CAMERA_ORDER } from '../lib/types.js';

const dir = process.argv[2] ?? '.cache/test-checkpoints/tiny';
const N = Number(process.argv[3] ?? 20);
const W = 1920;
const H = 1080;
const t0Us = 1_700_000_000_000_000;
const history = curvedEgoHistory(t0Us);
const OPTS: PlanOptions = { seed: 1, temperature: 0, maxReasoningTokens: 1, diffusionSteps: 1 };

function frames1080p(): Frames {
  const out: Partial<Frames> = {};
  MODEL_CAMERA_ORDER.forEach((cam, c) => {
    out[cam] = [0, 1, 2, 3].map((i) => ({ data: new Uint8Array(W * H * 3).fill(c * 4 + i), width: W, height: H, timestampUs: t0Us - (3 - i) * 100_000 }));
  });
  return out as Frames;
}

const pct = (xs: number[], p: number): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};

await using planner = await Planner.load({ checkpoint: dir, backend: 'cpu', threads: 1 });
const copyMs: number[] = [];
const transferMs: number[] = [];
const reused = frames1080p();
for (let i = 0; i < N + 2; i++) {
  for (const mode of ['copy', 'transfer'] as const) {
    const f = mode === 'copy' ? reused : frames1080p(); // transfer detaches: fresh buffers each time
    const t = performance.now();
    const p = planner.plan(f, history, { ...OPTS, frameBuffers: mode });
    const ms = performance.now() - t;
    await p;
    if (i >= 2) (mode === 'copy' ? copyMs : transferMs).push(ms); // 2 warm-up rounds
  }
}
const src = reused.front_wide[0]!.data;
const dst = new Uint8Array(src.length);
const memcpyMs: number[] = [];
for (let i = 0; i < N; i++) {
  const t = performance.now();
  for (let k = 0; k < 16; k++) dst.set(src);
  memcpyMs.push(performance.now() - t);
}
console.log(`frame hand-off, 16 x ${W}x${H} RGB (${((16 * W * H * 3) / 2 ** 20).toFixed(1)} MiB), ${N} plans per mode, ${cpus()[0]?.model ?? '?'} x ${cpus().length}, Node ${process.version}`);
console.log('| synchronous part of plan() | median ms | p90 ms |');
console.log('|---|---|---|');
console.log(`| frameBuffers: 'copy' (default) | ${pct(copyMs, 50).toFixed(2)} | ${pct(copyMs, 90).toFixed(2)} |`);
console.log(`| frameBuffers: 'transfer' | ${pct(transferMs, 50).toFixed(2)} | ${pct(transferMs, 90).toFixed(2)} |`);
console.log(`| copy - transfer (the copy's cost) | ${(pct(copyMs, 50) - pct(transferMs, 50)).toFixed(2)} | |`);
console.log(`| reference: 16 x TypedArray.set of one frame | ${pct(memcpyMs, 50).toFixed(2)} | ${pct(memcpyMs, 90).toFixed(2)} |`);

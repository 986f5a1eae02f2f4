// Memory behaviour over many real plans (tiny and small checkpoints, CPU) and proof that frames are read in place.
import t from 'tap';
import { formatSoak, runSoak } from '../lib/cli/soak.js';
import { Planner } from '../lib/Planner.js';
import type { Frames } from '../lib/types.js';
import { egoHistory } from './fixtures/inputs.js';
import { checkpoint } from './fixtures/realCheckpoint.js';

const PLANS = Number(process.env.ALPAMAYO_SOAK_PLANS ?? 500);
const SMALL_PLANS = Number(process.env.ALPAMAYO_SOAK_SMALL_PLANS ?? 60);
const MB = 2 ** 20;

// RSS growth is the user-visible criterion; the C heap's in-use bytes are the leak detector (they do not
// move with fragmentation or allocator retention, so they must come back to the same figure).
for (const [preset, plans, warmup] of [
  ['tiny', PLANS, 50],
  ['small', SMALL_PLANS, 10],
] as const) {
  t.test(`soak: ${plans} plans on ${preset} keep RSS and the C heap flat, memory back to baseline after dispose`, async (t) => {
    const r = await runSoak({ checkpoint: await checkpoint(preset), plans, warmup });
    t.comment(formatSoak(r).replace(/\n/g, '\n# '));
    t.ok(r.rss.growthPct < 5, `RSS growth after warm-up ${r.rss.growthPct.toFixed(2)} % < 5 %`);
    if (r.nativeHeap) {
      const h = r.nativeHeap;
      t.ok(h.end - h.afterWarmup < 1 * MB, `C heap in use grew by ${((h.end - h.afterWarmup) / MB).toFixed(2)} MB < 1 MB over ${plans} plans`);
      t.ok(h.afterDispose - h.before < 2 * MB, `C heap in use after dispose within 2 MB of before load (${((h.afterDispose - h.before) / MB).toFixed(2)} MB)`);
    } else {
      t.comment('C heap accounting needs glibc; not checked');
    }
    t.ok(Math.abs(r.external.afterDispose - r.external.before) < 2 * MB, 'external memory back to baseline (±2 MB)');
    t.ok(Math.abs(r.arrayBuffers.afterDispose - r.arrayBuffers.before) < 2 * MB, 'arrayBuffers back to baseline (±2 MB)');
  });
}

t.test('zero-copy: 16 large frames are read in place, not copied on the JS side', async (t) => {
  await using planner = await Planner.load({ checkpoint: await checkpoint('tiny'), backend: 'cpu', threads: 1 });
  const W = 640;
  const H = 480;
  const size = W * H * 3;
  const cams = ['front_wide', 'front_tele', 'cross_left', 'cross_right'] as const;
  const f = Object.fromEntries(
    cams.map((c, ci) => [c, [0, 1, 2, 3].map((i) => ({ data: new Uint8Array(size).fill(ci * 4 + i + 1), width: W, height: H, timestampUs: 1_000_000 + i * 100_000 }))]),
  ) as unknown as Frames;
  const all = cams.flatMap((c) => f[c].map((x) => x.data));
  await planner.plan(f, egoHistory(), { seed: 1, temperature: 0, maxReasoningTokens: 2, diffusionSteps: 1 }); // warm
  const base = process.memoryUsage().arrayBuffers;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 1);
  for (let i = 0; i < 3; i++) {
    const pending = planner.plan(f, egoHistory(), { seed: 1, temperature: 0, maxReasoningTokens: 2, diffusionSteps: 1 });
    peak = Math.max(peak, process.memoryUsage().arrayBuffers); // right after the synchronous hand-off
    await pending;
  }
  clearInterval(sampler);
  const grew = peak - base;
  t.comment(`frames ${(16 * size / 2 ** 20).toFixed(1)} MB; arrayBuffers peak growth during plans ${(grew / 2 ** 10).toFixed(0)} KB`);
  t.ok(grew < 2 * size, `arrayBuffers grew by ${grew} B, less than 2 frames (a copy would add ${16 * size} B)`);
  t.ok(all.every((d) => d.byteLength === size && !(d.buffer as ArrayBuffer & { detached?: boolean }).detached), 'every Uint8Array is still attached');
  t.ok(all.every((d, k) => d[0] === k + 1 && d[size - 1] === k + 1), 'frame bytes untouched by the native side');
});

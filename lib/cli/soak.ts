// `npm run soak [-- PLANS [tiny|small]]`: runs many short plans on a random-weight checkpoint (default: small) and prints the
// memory figures (RSS growth after warm-up, external/arrayBuffers before load vs after dispose).
// test/soak.test.ts runs the same loop with 500 plans.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadNative } from '../native.js';
import { Planner } from '../Planner.js';
import { curvedEgoHistory, syntheticFrames } from './syntheticScene.js';
import { writeTokenizerFiles } from '../tokenizerFiles.js';

export interface SoakOptions {
  checkpoint: string;
  plans: number;
  /** Plans before the RSS baseline is taken (allocator pools, JIT, caches settle). Default 50. */
  warmup?: number;
  threads?: number;
  /** Called every `every` plans with the plan count, current RSS and C heap bytes in use (NaN off glibc). */
  onProgress?: (done: number, rssBytes: number, heapInUseBytes: number) => void;
  every?: number;
}

export interface SoakReport {
  plans: number;
  warmup: number;
  seconds: number;
  latencyMs: { p50: number; p99: number; max: number };
  rss: { afterWarmup: number; end: number; peak: number; growthPct: number };
  /** C heap bytes in use (glibc accounting, after GC): a native leak shows here even when RSS hides it. */
  nativeHeap?: { afterWarmup: number; end: number; afterDispose: number; before: number; growthPct: number };
  /** Before Planner.load vs after dispose (both after GC). */
  external: { before: number; afterDispose: number };
  arrayBuffers: { before: number; afterDispose: number };
}

// GC on demand without requiring --expose-gc, so the figures are not at the mercy of GC timing.
function gcFunction(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

// Full GCs with turns of the event loop between them: N-API finalizers run from setImmediate, and V8
// frees ArrayBuffer backing stores from a concurrent sweeper, so the C heap settles only after both.
async function settle(gc: () => void): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs `plans` plans (after `warmup` more) on one planner and reports memory and latency. */
export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const gc = gcFunction();
  const warmup = o.warmup ?? 50;
  const t0Us = 1_700_000_000_000_000;
  const frames = syntheticFrames(t0Us, 64, 64);
  const history = curvedEgoHistory(t0Us);
  const addon = loadNative();
  const heapInUse = (): number => addon.nativeHeap()?.inUse ?? NaN;
  await settle(gc);
  const before = process.memoryUsage();
  const heapBefore = heapInUse();
  const planner = await Planner.load({ checkpoint: o.checkpoint, backend: 'cpu', threads: o.threads ?? 1 });
  const latencies: number[] = [];
  let afterWarmup = 0;
  let heapAfterWarmup = NaN;
  let peak = 0;
  const start = performance.now();
  for (let i = 0; i < warmup + o.plans; i++) {
    if (i === warmup) {
      await settle(gc);
      afterWarmup = process.memoryUsage().rss;
      heapAfterWarmup = heapInUse();
    }
    const t = performance.now();
    await planner.plan(frames, history, { seed: i, temperature: 0, maxReasoningTokens: 2, diffusionSteps: 1 });
    if (i >= warmup) latencies.push(performance.now() - t);
    if ((i + 1) % (o.every ?? 100) === 0) {
      const rss = process.memoryUsage().rss;
      peak = Math.max(peak, rss);
      o.onProgress?.(i + 1, rss, heapInUse());
    }
  }
  const seconds = (performance.now() - start) / 1000;
  await settle(gc);
  const end = process.memoryUsage().rss;
  const heapEnd = heapInUse();
  peak = Math.max(peak, end);
  await planner.dispose();
  await settle(gc);
  const after = process.memoryUsage();
  const heapAfterDispose = heapInUse();
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length - 1) * p))] ?? NaN;
  return {
    plans: o.plans,
    warmup,
    seconds,
    latencyMs: { p50: q(0.5), p99: q(0.99), max: latencies[latencies.length - 1] ?? NaN },
    rss: { afterWarmup, end, peak, growthPct: ((end - afterWarmup) / afterWarmup) * 100 },
    ...(Number.isFinite(heapAfterWarmup)
      ? {
          nativeHeap: {
            before: heapBefore,
            afterWarmup: heapAfterWarmup,
            end: heapEnd,
            afterDispose: heapAfterDispose,
            growthPct: ((heapEnd - heapAfterWarmup) / heapAfterWarmup) * 100,
          },
        }
      : {}),
    external: { before: before.external, afterDispose: after.external },
    arrayBuffers: { before: before.arrayBuffers, afterDispose: after.arrayBuffers },
  };
}

const mb = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MB`;

/** Human-readable report lines. */
export function formatSoak(r: SoakReport): string {
  return [
    `plans ${r.plans} (+${r.warmup} warm-up) in ${r.seconds.toFixed(1)} s; latency p50 ${r.latencyMs.p50.toFixed(1)} ms, p99 ${r.latencyMs.p99.toFixed(1)} ms, max ${r.latencyMs.max.toFixed(1)} ms`,
    `rss after warm-up ${mb(r.rss.afterWarmup)}, end ${mb(r.rss.end)}, peak ${mb(r.rss.peak)}, growth ${r.rss.growthPct.toFixed(2)} %`,
    ...(r.nativeHeap
      ? [
          `native heap in use ${mb(r.nativeHeap.before)} before load, ${mb(r.nativeHeap.afterWarmup)} after warm-up, ${mb(r.nativeHeap.end)} end (${r.nativeHeap.growthPct.toFixed(2)} %), ${mb(r.nativeHeap.afterDispose)} after dispose`,
        ]
      : []),
    `external ${mb(r.external.before)} before load -> ${mb(r.external.afterDispose)} after dispose; arrayBuffers ${mb(r.arrayBuffers.before)} -> ${mb(r.arrayBuffers.afterDispose)}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const plans = Number(process.argv[2] ?? 10_000);
  const preset = process.argv[3] ?? 'small';
  if (preset !== 'tiny' && preset !== 'small') throw new Error(`soak: preset must be tiny or small, got ${preset}`);
  const dir = resolve('.cache', preset);
  if (!existsSync(join(dir, 'config.json'))) {
    const addon = loadNative();
    addon.makeCheckpoint(dir, preset, 1);
    await writeTokenizerFiles(dir, addon.tokenLayout(preset));
  }
  console.log(`soak: ${plans} plans on ${dir} (cpu, 1 thread)`);
  const report = await runSoak({
    checkpoint: dir,
    plans,
    every: Math.max(1, Math.min(1000, Math.round(plans / 10))),
    onProgress: (done, rss, heap) => console.log(`  ${done} plans, rss ${mb(rss)}, native heap in use ${mb(heap)}`),
  });
  console.log(formatSoak(report));
}

// Runs only as the `npm run soak` entry point (this file is also imported by tests).
if (/soak\.[cm]?js$/.test(process.argv[1] ?? '')) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

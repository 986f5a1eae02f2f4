#!/usr/bin/env node
// CPU-vs-CUDA plan parity through the public API (part of scripts/gpu-check.sh): for the tiny and
// small test checkpoints, greedy reasoning tokens must be identical and 1-step waypoints within
// tolerance (fp32 on both); bf16 CUDA (cuBLASLt + cuDNN) against CPU bf16 is reported, not asserted.
//   node scripts/gpu-parity.mjs OUT.json
// Needs dist/ (npm run build:ts) and the addon in ALPAMAYO_TRT_NATIVE. Exit 1 on a parity failure.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const out = process.argv[2] ?? 'parity.json';
const { Planner } = await import('../dist/esm/index.js');
const { runCli } = await import('../dist/esm/cli/runCli.js');
const { syntheticFrames, curvedEgoHistory } = await import('../dist/esm/cli/syntheticScene.js');

const FP32_WAYPOINT_TOL = 1e-3; // metres, one Euler step: summation order only
const t0 = 1_700_000_000_000_000;
const frames = syntheticFrames(t0);
const history = curvedEgoHistory(t0);
const noise = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i * 0.7));
const options = { temperature: 0, diffusionSteps: 1, maxReasoningTokens: 20, initialNoise: noise, returnTokens: true, seed: 1 };

const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const sameTokens = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
const results = [];
let failed = false;
for (const preset of ['tiny', 'small']) {
  const dir = mkdtempSync(join(tmpdir(), `alp-${preset}-`));
  if ((await runCli(['make-checkpoint', dir, '--preset', preset, '--seed', '1'], { out: () => {}, err: (s) => process.stderr.write(s) })) !== 0)
    throw new Error(`make-checkpoint ${preset} failed`);
  for (const precision of ['fp32', 'bf16']) {
    const cpu = await Planner.load({ checkpoint: dir, backend: 'cpu', precision, threads: 0 });
    const gpu = await Planner.load({ checkpoint: dir, backend: 'cuda', precision });
    try {
      const a = await cpu.plan(frames, history, options);
      const b = await gpu.plan(frames, history, options);
      const tokensEqual = sameTokens(Array.from(a.tokens), Array.from(b.tokens));
      const dWaypoints = maxDiff(a.waypoints.positions, b.waypoints.positions);
      const asserted = precision === 'fp32';
      const ok = !asserted || (tokensEqual && dWaypoints <= FP32_WAYPOINT_TOL);
      if (!ok) failed = true;
      results.push({
        preset, precision, asserted, ok, tokensEqual, tokens: a.tokens.length, maxWaypointDiffM: dWaypoints,
        cpuTotalMs: a.timings.totalMs, cudaTotalMs: b.timings.totalMs, cudaTimings: b.timings,
      });
      console.log(`${ok ? 'ok' : 'not ok'} ${preset} ${precision}: tokens ${tokensEqual ? 'identical' : 'DIFFER'} (${a.tokens.length}), ` +
        `max waypoint diff ${dWaypoints.toExponential(2)} m${asserted ? ` (tol ${FP32_WAYPOINT_TOL})` : ' (reported only)'}, ` +
        `cpu ${a.timings.totalMs.toFixed(1)} ms, cuda ${b.timings.totalMs.toFixed(1)} ms`);
    } finally {
      cpu.dispose();
      gpu.dispose();
    }
  }
}
writeFileSync(out, JSON.stringify({ results }, null, 2));
process.exit(failed ? 1 : 0);

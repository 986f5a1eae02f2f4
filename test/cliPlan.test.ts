// `alpamayo-trt plan` end to end: the built bin, the real addon, the tiny seed-0 checkpoint, raw .rgb
// frames and an inputs file; with --noise and --reasoning the CLI must give the reference trajectory of
// the parity fixture's "frames" case.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MODEL_CAMERA_ORDER } from '../lib/types.js';
import { fixtureFrames, fixtureHistory, loadFixture, maxAbsDiff, realAddonSkip, REAL_ADDON } from './fixtures/parity/parityInputs.js';

const CLI = resolve('dist/esm/cli/cli.js');
const skip = realAddonSkip() || (existsSync(CLI) ? false : 'dist/ not built (npm test builds it first)');

function cli(...argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...argv], { encoding: 'utf8', env: { ...process.env, ALPAMAYO_TRT_NATIVE: REAL_ADDON }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface PlanJson {
  reasoning: string;
  seed: number;
  waypoints: { positions: number[]; rotations: number[]; timestamps: number[] };
  samples: { reasoning: string; waypoints: { positions: number[] }; actions: { accel: number[]; curvature: number[]; normalized: number[] }; tokens: number[] }[];
  actions: { accel: number[]; curvature: number[]; normalized: number[] };
  v0: number;
  timings: Record<string, number>;
}

t.test('plan --inputs FILE.json --json, then --noise and --reasoning', { skip }, async (t) => {
  const dir = t.testdir();
  const ckpt = join(dir, 'ckpt');
  const made = cli('make-checkpoint', ckpt, '--preset', 'tiny', '--seed', '0');
  t.equal(made.status, 0, made.stderr);
  const fx = loadFixture();
  const frames = fixtureFrames(fx);
  const inputs = {
    frames: Object.fromEntries(
      MODEL_CAMERA_ORDER.map((cam) => [
        cam,
        frames[cam].map((f, i) => {
          const path = `${cam}_${i}.rgb`;
          writeFileSync(join(dir, path), f.data);
          return { path, width: f.width, height: f.height, timestampUs: f.timestampUs };
        }),
      ]),
    ),
    egoHistory: fixtureHistory(fx),
  };
  const inputsFile = join(dir, 'inputs.json');
  writeFileSync(inputsFile, JSON.stringify(inputs));

  const r = cli('plan', '--checkpoint', ckpt, '--inputs', inputsFile, '--seed', '1', '--samples', '2', '--temperature', '0', '--max-tokens', '8', '--json');
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as PlanJson;
  t.type(out.reasoning, 'string');
  t.equal(out.seed, 1);
  t.equal(out.samples.length, 2);
  t.equal(out.waypoints.positions.length, 192);
  t.equal(out.waypoints.rotations.length, 576);
  t.equal(out.waypoints.timestamps.length, 64);
  t.equal(out.actions.accel.length, 64);
  t.equal(out.actions.normalized.length, 128);
  t.ok(out.samples[0]!.tokens.length >= 1 && out.samples[0]!.tokens.length <= 8);
  t.ok(Math.abs(out.v0 - 8) < 0.01, 'v0 from the 8 m/s history');
  for (const k of ['preprocessMs', 'visionMs', 'prefillMs', 'reasoningMs', 'actionMs', 'totalMs']) t.ok(out.timings[k]! >= 0, k);
  t.ok(maxAbsDiff(out.samples[0]!.waypoints.positions, out.samples[1]!.waypoints.positions) > 1e-3, 'seeded noise differs per sample');

  // Fixture noise (raw little-endian float32) and the fixture's reasoning as text: the reference trajectory.
  const noiseFile = join(dir, 'noise.f32');
  writeFileSync(noiseFile, Buffer.from(Float32Array.from(fx.tensor('noise')).buffer));
  const f = cli('plan', '--checkpoint', ckpt, '--inputs', inputsFile, '--samples', '2', '--steps', '1', '--noise', noiseFile, '--reasoning', 'Slow.<|cot_end|><|traj_future_start|>', '--json');
  t.equal(f.status, 0, f.stderr);
  const forced = JSON.parse(f.stdout) as PlanJson;
  t.equal(forced.reasoning, 'Slow.');
  const fixtureTokens = Array.from(fx.tensor('forced_tokens'));
  t.same(forced.samples[1]!.tokens, fixtureTokens.slice(0, fixtureTokens.length - 1), 'the text tokenizes to the fixture ids');
  // One Euler step: ten amplify fp32 last-bit differences chaotically on these weights (parity.test.ts).
  const ref = fx.tensor('frames_waypoints_xyz_f64_1step');
  const err = Math.max(...[0, 1].map((s) => maxAbsDiff(forced.samples[s]!.waypoints.positions, ref.subarray(s * 192, (s + 1) * 192))));
  t.comment(`CLI vs PyTorch waypoints: max abs err ${err.toExponential(2)} m`);
  t.ok(err < 1e-4, `waypoints match the reference (${err})`);

  const bad = cli('plan', '--checkpoint', ckpt, '--inputs', inputsFile, '--noise', noiseFile, '--json');
  t.not(bad.status, 0, 'noise for 2 samples with samples=1 is rejected');
  t.match(bad.stderr, /initialNoise/);
});

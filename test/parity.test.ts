// End-to-end parity through the public API: Planner.load + plan() on the tiny seed-0 checkpoint against
// the PyTorch reference's "frames" case (make_parity_fixtures.py: real uint8 frames, the same ego history,
// teacher-forced reasoning and initial noise). native/tests/parity_test.cpp covers the intermediate
// tensors; this file checks that the JS path (frame ordering, preprocessing, prompt rendering and
// tokenization, history tokens, forced tokens, noise layout, result mapping) feeds the network the same.
import t from 'tap';
import { buildPromptIds } from '../lib/buildPrompt.js';
import { loadCheckpointTokenizer } from '../lib/loadCheckpointTokenizer.js';
import { fixtureFrames, fixtureHistory, loadFixture, maxAbsDiff, realAddonSkip, REAL_ADDON } from './fixtures/parity/parityInputs.js';

const skip = realAddonSkip();
if (!skip) process.env.ALPAMAYO_TRT_NATIVE = REAL_ADDON;

// Measured on this machine (see the e2e report): actions 1.3e-6, waypoints 2.6e-6 m. The bound leaves
// room for other CPUs' fp32 reduction order through the 10 amplifying Euler steps.
const ACTIONS_TOL = 2e-5;
const WAYPOINT_TOL = 1e-4;

t.test('plan() reproduces the PyTorch reference on real frames', { skip }, async (t) => {
  const { runCli } = await import('../lib/runCli.js');
  const { Planner } = await import('../lib/Planner.js');
  const { historyTokens } = await import('../lib/metrics.js');
  const dir = t.testdir();
  t.equal(await runCli(['make-checkpoint', dir, '--preset', 'tiny', '--seed', '0'], { out: () => {}, err: (s) => t.comment(s) }), 0);
  const fx = loadFixture();
  const frames = fixtureFrames(fx);
  const history = fixtureHistory(fx);
  const planner = await Planner.load({ checkpoint: dir, backend: 'cpu', threads: 2 });
  t.teardown(() => planner.dispose());

  // The prompt our lib renders (chat template + tokenizer + history tokens) is the reference's input_ids.
  const tok = await loadCheckpointTokenizer(dir);
  const [, h, w] = fx.meta.frames.shape as [number, number, number];
  const perImage = (h / 32) * (w / 32);
  const ids = buildPromptIds(tok, { imageTokenCounts: Array(16).fill(perImage), historyIds: historyTokens(history, planner.modelConfig) });
  t.same(Array.from(ids), Array.from(fx.tensor('input_ids')), 'prompt ids == reference input_ids');

  const forced = Array.from(fx.tensor('forced_tokens'));
  const noise = Float32Array.from(fx.tensor('noise'));
  const r = await planner.plan(frames, history, {
    samples: fx.meta.n_samples,
    initialNoise: noise,
    reasoningTokens: forced,
    temperature: 0,
    returnActions: true,
    returnTokens: true,
  });
  const futureStart = (fx.meta.token_ids as Record<string, number>)['<|traj_future_start|>']!;
  const wantTokens = forced.slice(0, forced.indexOf(futureStart) + 1);
  t.equal(r.reasoning, 'Slow.');
  const actionsRef = fx.tensor('frames_actions_normalized');
  const xyzRef = fx.tensor('frames_waypoints_xyz_f64');
  const yawRef = fx.tensor('frames_waypoints_yaw_f64');
  const n = 64 * 2;
  for (let s = 0; s < fx.meta.n_samples; s++) {
    const sample = r.samples[s]!;
    t.same(Array.from(sample.tokens!), wantTokens, `sample ${s}: forced tokens up to <|traj_future_start|>`);
    const ea = maxAbsDiff(sample.actions!.normalized, actionsRef.subarray(s * n, (s + 1) * n));
    const ew = maxAbsDiff(sample.waypoints.positions, xyzRef.subarray(s * 192, (s + 1) * 192));
    const yaw = Array.from({ length: 64 }, (_, k) => Math.atan2(sample.waypoints.rotations[k * 9 + 3]!, sample.waypoints.rotations[k * 9]!));
    const ey = maxAbsDiff(yaw, yawRef.subarray(s * 64, (s + 1) * 64));
    t.comment(`sample ${s}: actions max abs err ${ea.toExponential(2)}, waypoints ${ew.toExponential(2)} m, yaw ${ey.toExponential(2)} rad`);
    t.ok(ea < ACTIONS_TOL, `sample ${s} normalized actions within ${ACTIONS_TOL} (got ${ea})`);
    t.ok(ew < WAYPOINT_TOL, `sample ${s} waypoints within ${WAYPOINT_TOL} m (got ${ew})`);
    t.ok(ey < WAYPOINT_TOL, `sample ${s} yaw within ${WAYPOINT_TOL} rad (got ${ey})`);
  }
  // The reference noise differs per sample, so the two trajectories must too (the noise is not ignored).
  t.ok(maxAbsDiff(r.samples[0]!.waypoints.positions, r.samples[1]!.waypoints.positions) > 1e-3);
});

// Reproducibility controls of plan() on the tiny seed-0 checkpoint with the real addon (CPU): greedy +
// initialNoise, seeds, teacher-forced reasoning, returned actions and the research helpers.
import t from 'tap';
import { buildPromptIds } from '../lib/buildPrompt.js';
import { loadCheckpointTokenizer } from '../lib/loadCheckpointTokenizer.js';
import type { PlanResult } from '../lib/types.js';
import { fixtureFrames, fixtureHistory, loadFixture, maxAbsDiff, realAddonSkip, REAL_ADDON } from './fixtures/parity/parityInputs.js';

const skip = realAddonSkip();
if (skip) {
  t.test('reproducibility', { skip }, async () => {});
} else {
  process.env.ALPAMAYO_TRT_NATIVE = REAL_ADDON;
  const { runCli } = await import('../lib/cli/runCli.js');
  const { Planner } = await import('../lib/Planner.js');
  const metrics = await import('../lib/metrics.js');
  const dir = t.testdir();
  t.equal(await runCli(['make-checkpoint', dir, '--preset', 'tiny', '--seed', '0'], { out: () => {}, err: (s) => t.comment(s) }), 0);
  const fx = loadFixture();
  const frames = fixtureFrames(fx);
  const history = fixtureHistory(fx);
  const planner = await Planner.load({ checkpoint: dir, backend: 'cpu', threads: 2 });
  t.teardown(() => planner.dispose());
  const cfg = planner.modelConfig as { special_token_ids: Record<string, number>; action_space_cfg: Record<string, number> };
  const futureStart = cfg.special_token_ids['<|traj_future_start|>']!;
  const noise = Float32Array.from({ length: 128 }, (_, i) => Math.sin(0.37 * i + 1));
  const sampled = { temperature: 1, topP: 1, maxReasoningTokens: 12, returnTokens: true } as const;
  const same = (a: PlanResult, b: PlanResult): boolean =>
    maxAbsDiff(a.waypoints.positions, b.waypoints.positions) === 0 && maxAbsDiff(a.waypoints.rotations, b.waypoints.rotations) === 0;

  t.test('greedy + initialNoise: two runs give identical waypoints', async (t) => {
    const opts = { temperature: 0, initialNoise: noise, maxReasoningTokens: 12, returnTokens: true };
    const a = await planner.plan(frames, history, { ...opts, seed: 1 });
    const b = await planner.plan(frames, history, { ...opts, seed: 2 });
    t.ok(same(a, b), 'bit-identical positions and rotations, whatever the seed');
    t.same(Array.from(a.tokens!), Array.from(b.tokens!));
    t.equal(a.reasoning, b.reasoning);
  });

  t.test('same seed -> same tokens and waypoints; different seed -> different', async (t) => {
    const a = await planner.plan(frames, history, { ...sampled, seed: 11 });
    const b = await planner.plan(frames, history, { ...sampled, seed: 11 });
    const c = await planner.plan(frames, history, { ...sampled, seed: 12 });
    t.equal(a.seed, 11);
    t.same(Array.from(a.tokens!), Array.from(b.tokens!));
    t.ok(same(a, b));
    t.notSame(Array.from(a.tokens!), Array.from(c.tokens!), 'another seed samples other tokens');
    t.ok(maxAbsDiff(a.waypoints.positions, c.waypoints.positions) > 1e-3, 'and draws other noise');
  });

  t.test('reasoningTokens as text is the reasoning; <|traj_future_start|> is appended', async (t) => {
    const text = 'Slow down for the cyclist.';
    const r = await planner.plan(frames, history, { reasoningTokens: text, initialNoise: noise, returnTokens: true });
    t.equal(r.reasoning, text);
    const bytes = Array.from(new TextEncoder().encode(text));
    t.same(Array.from(r.tokens!), [...bytes, futureStart], 'byte tokens of the text, then <|traj_future_start|>');
    const withEnd = await planner.plan(frames, history, { reasoningTokens: `${text}<|cot_end|><|traj_future_start|>`, initialNoise: noise, returnTokens: true });
    t.equal(withEnd.reasoning, text);
    t.same(Array.from(withEnd.tokens!), [...bytes, cfg.special_token_ids['<|cot_end|>'], futureStart], 'not appended twice');
  });

  t.test('returnActions is consistent with the trajectory helpers', async (t) => {
    const r = await planner.plan(frames, history, { temperature: 0, maxReasoningTokens: 8, initialNoise: noise, returnActions: true });
    const a = r.actions!;
    const as = cfg.action_space_cfg;
    for (let k = 0; k < 64; k++) {
      t.ok(Math.abs(a.accel[k]! - (a.normalized[2 * k]! * as.accel_std! + as.accel_mean!)) < 1e-12, `accel[${k}] = denormalized`);
      t.ok(Math.abs(a.curvature[k]! - (a.normalized[2 * k + 1]! * as.curvature_std! + as.curvature_mean!)) < 1e-12);
    }
    t.equal(r.v0, metrics.estimateInitialSpeed(history, planner.modelConfig));
    t.ok(Math.abs(r.v0! - 8) < 0.01, `v0 ${r.v0} ~ 8 m/s (history speed at t0)`);
    const traj = metrics.actionsToTrajectory(a.accel, a.curvature, r.v0!, planner.modelConfig);
    t.equal(maxAbsDiff(traj.positions, r.waypoints.positions), 0, 'actionsToTrajectory(actions) == waypoints');
    t.ok(maxAbsDiff(traj.rotations, r.waypoints.rotations) < 1e-15);
    const back = metrics.trajectoryToActions(traj, r.v0!, planner.modelConfig);
    t.ok(maxAbsDiff(back.accel, a.accel) < 1e-9, `accel round trip ${maxAbsDiff(back.accel, a.accel)}`);
    t.ok(maxAbsDiff(back.curvature, a.curvature) < 1e-9, `curvature round trip ${maxAbsDiff(back.curvature, a.curvature)}`);
    // The API's signatures: a result's actions object and the ego history; the explicit form above agrees.
    const fromResult = metrics.actionsToTrajectory(a, history, planner.modelConfig);
    t.equal(maxAbsDiff(fromResult.positions, r.waypoints.positions), 0, 'actionsToTrajectory(result.actions, egoHistory) == waypoints');
    const inverse = metrics.trajectoryToActions(r.waypoints, history, planner.modelConfig);
    t.ok(maxAbsDiff(inverse.accel, a.accel) < 1e-9, 'trajectoryToActions(waypoints, egoHistory) == actions');
    t.ok(maxAbsDiff(inverse.normalized, a.normalized) < 1e-5, `normalized as the planner's (${maxAbsDiff(inverse.normalized, a.normalized)})`);
    // Without a config: the release action space. v0 and the integration do not use the statistics.
    t.equal(metrics.estimateInitialSpeed(history), r.v0);
    t.equal(maxAbsDiff(metrics.actionsToTrajectory(a, history).positions, r.waypoints.positions), 0, 'default action space');
    const rel = metrics.trajectoryToActions(r.waypoints, history);
    t.ok(maxAbsDiff(rel.accel, a.accel) < 1e-9);
    t.ok(Math.abs(rel.normalized[0]! - (a.accel[0]! - 0.02902694707164455) / 0.6810426736454882) < 1e-6, 'normalized with the release mean/std');
    t.throws(() => metrics.actionsToTrajectory({ accel: a.accel } as never, history), { code: 'INVALID_INPUT' });
  });

  t.test('historyTokens are the 48 ids in the prompt', async (t) => {
    const ids = metrics.historyTokens(history, planner.modelConfig);
    t.equal(ids.length, 48);
    // Independent reference: the fixture's bins from the PyTorch tokenizer re-derivation.
    const base = fx.meta.history_token_base as number;
    t.same(Array.from(ids), Array.from(fx.tensor('history_bins'), (b) => b + base));
    const tok = await loadCheckpointTokenizer(dir);
    const prompt = Array.from(buildPromptIds(tok, { imageTokenCounts: Array(16).fill(8), historyIds: ids }));
    const at = prompt.indexOf(cfg.special_token_ids['<|traj_history_start|>']!);
    t.same(prompt.slice(at + 1, at + 49), Array.from(ids));
    t.equal(prompt[at + 49], cfg.special_token_ids['<|traj_history_end|>']);
  });

  t.test('samples=3: three samples, top level is sample 0, minADE over them', async (t) => {
    const r = await planner.plan(frames, history, { ...sampled, samples: 3, seed: 5, returnActions: true });
    t.equal(r.samples.length, 3);
    t.equal(r.waypoints, r.samples[0]!.waypoints);
    t.equal(r.reasoning, r.samples[0]!.reasoning);
    t.equal(r.actions, r.samples[0]!.actions);
    const m = metrics.minADE(r.samples.map((s) => s.waypoints), r.samples[2]!.waypoints, { horizons: [1, 3] });
    t.equal(m.bestIndex, 2);
    t.equal(m.minADE, 0);
    t.equal(m.ade.length, 3);
    t.ok(m.ade[0]! > 0 && m.ade[1]! > 0, 'different noise per sample');
    t.same(m.horizons.map((h) => h.steps), [10, 30]);
  });
}

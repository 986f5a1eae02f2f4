// config.json and persisted buffers as the official classes define them. Golden values come from
// test/fixtures/make_official_config_fixtures.py, which runs the official AlpamayoR1Config, hydra-style
// instantiation of every *_cfg, load_state_dict(strict=True) of our tensors and DeltaTrajectoryTokenizer.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fixtureHistory, loadFixture, realAddonSkip, REAL_ADDON } from './fixtures/parity/parityInputs.js';

const skip = realAddonSkip();
if (!skip) process.env.ALPAMAYO_TRT_NATIVE = REAL_ADDON;

interface OfficialFixture {
  checkpoint_config: Record<string, unknown>;
  config_accepted: { attn_implementation: string; model_type: string };
  vocab_sizes: { traj_tokenizer: number; hist_traj_tokenizer: number };
  buffers_loaded: Record<string, number[]>;
  history_nondefault: { cfg: Record<string, unknown>; bins: number[] };
  rejected_by_official: Record<string, boolean>;
}
const official = JSON.parse(readFileSync('test/fixtures/official_config_fixtures.json', 'utf8')) as OfficialFixture;

// model-spec §4 (the release config.json's action_space_cfg).
const RELEASE_ACTION_SPACE = {
  accel_mean: 0.02902694707164455,
  accel_std: 0.6810426736454882,
  curvature_mean: 0.0002692167976330542,
  curvature_std: 0.026148280660833106,
  accel_bounds: [-9.8, 9.8],
  curvature_bounds: [-0.33, 0.33],
  dt: 0.1,
  n_waypoints: 64,
};

async function makeCheckpoint(dir: string, preset: string): Promise<Record<string, unknown>> {
  const { runCli } = await import('../lib/cli/runCli.js');
  const code = await runCli(['make-checkpoint', dir, '--preset', preset, '--seed', '0'], { out: () => {}, err: () => {} });
  if (code !== 0) throw new Error(`make-checkpoint exited ${code}`);
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
}

t.test('make-checkpoint writes the config.json the official classes accept', { skip }, async (t) => {
  const cfg = await makeCheckpoint(t.testdir(), 'tiny');
  // The fixture was produced from exactly this file (a stale fixture fails here first).
  t.same(cfg, official.checkpoint_config, 'config.json == the one the official code was run on');
  for (const key of ['action_space_cfg', 'diffusion_cfg', 'action_in_proj_cfg', 'action_out_proj_cfg', 'traj_tokenizer_cfg', 'hist_traj_tokenizer_cfg']) {
    t.type((cfg[key] as Record<string, unknown>)['_target_'], 'string', `${key}._target_`);
  }
  t.equal(official.config_accepted.attn_implementation, cfg.attn_implementation, 'AlpamayoR1Config keeps attn_implementation');
  t.equal(official.config_accepted.model_type, 'alpamayo_r1');
  t.same(official.vocab_sizes, { traj_tokenizer: 3000, hist_traj_tokenizer: 1000 });
});

t.test('tiny and small presets use the release action space', { skip }, async (t) => {
  for (const preset of ['tiny', 'small']) {
    const cfg = await makeCheckpoint(t.testdir(), preset);
    const as = cfg.action_space_cfg as Record<string, unknown>;
    for (const [k, v] of Object.entries(RELEASE_ACTION_SPACE)) t.same(as[k], v, `${preset} action_space_cfg.${k}`);
  }
});

t.test('the planner computes with the stored buffers (bf16, as the official load holds them)', { skip }, async (t) => {
  const { Planner } = await import('../lib/Planner.js');
  const dir = t.testdir();
  await makeCheckpoint(dir, 'tiny');
  const planner = await Planner.load({ checkpoint: dir, backend: 'cpu', threads: 1 });
  t.teardown(() => planner.dispose());
  const as = (planner.modelConfig as { action_space_cfg: Record<string, number> }).action_space_cfg;
  for (const k of ['accel_mean', 'accel_std', 'curvature_mean', 'curvature_std']) {
    t.equal(as[k], official.buffers_loaded[`action_space.${k}`]![0], `modelConfig.action_space_cfg.${k} == official buffer`);
  }
  t.not(as.accel_std, RELEASE_ACTION_SPACE.accel_std, 'the bf16 buffer, not the config value');
});

t.test('history tokens follow non-default official bounds (ego_xyz_min/max, num_bins)', { skip }, async (t) => {
  const { historyTokens } = await import('../lib/metrics.js');
  const cfg = structuredClone(official.checkpoint_config);
  cfg.hist_traj_tokenizer_cfg = { ...(cfg.hist_traj_tokenizer_cfg as object), ...official.history_nondefault.cfg };
  const ids = historyTokens(fixtureHistory(loadFixture()), cfg);
  const base = (cfg.traj_token_start_idx as number) + official.vocab_sizes.traj_tokenizer;
  t.same(Array.from(ids), official.history_nondefault.bins.map((b) => b + base), 'ids == official DeltaTrajectoryTokenizer.encode + offset');
  // Keys the official constructor rejects are rejected, naming the key.
  for (const [field, rejected] of Object.entries(official.rejected_by_official)) {
    t.ok(rejected, `${field}: the official class raises TypeError`);
    const [section, key] = field.split('.') as [string, string];
    const bad = structuredClone(official.checkpoint_config);
    bad[section] = { ...(bad[section] as object), [key]: key === 'dims_min' ? [-4, -4, -10] : 2 };
    t.throws(() => historyTokens(fixtureHistory(loadFixture()), bad), { code: 'INVALID_CHECKPOINT', message: new RegExp(field.replace('.', '\\.')) });
  }
});

// CI freshness of the committed parity fixture: with ALPAMAYO_PYTHON pointing at a python that has torch,
// transformers and safetensors, regenerate test/fixtures/parity/tiny.* from a fresh tiny seed-0
// checkpoint into a temp dir and compare with the committed files. Catches a fixture that no longer
// matches make-checkpoint or the reference script (the C++ parity test only sees the weight hashes).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FIXTURE_PREFIX, readSafetensors, realAddonSkip, REAL_ADDON } from './fixtures/parity/parityInputs.js';

const python = process.env.ALPAMAYO_PYTHON;
function skipReason(): false | string {
  if (!python) return 'ALPAMAYO_PYTHON is not set (a python with torch + transformers regenerates the parity fixture)';
  const probe = spawnSync(python, ['-c', 'import torch, transformers, safetensors, numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) return `ALPAMAYO_PYTHON=${python} cannot import torch/transformers/safetensors/numpy: ${(probe.stderr || String(probe.error)).trim().split('\n').at(-1)}`;
  return realAddonSkip();
}
const skip = skipReason();

// Same machine and library versions give identical bytes; other CPUs may differ in the last bits.
const REL_TOL = 1e-5;
// Outputs of the 10-step Euler loop are chaotic on these random weights: torch's kernels differ by CPU
// (AVX-512 or not), and ten fp32 steps turn last-bit differences into 0.09 in actions and 0.25 m in
// waypoints (measured between two EPYC generations; test/parity.test.ts explains the chaos). They get
// parity.test.ts's 10-step sanity bounds; every one-step and pre-loop tensor stays at REL_TOL.
const TEN_STEP_TOL: Record<string, number> = {
  accel: 0.3,
  curvature: 0.3,
  actions_normalized: 0.3,
  velocity_profile: 0.3,
  waypoints_yaw: 0.3,
  waypoints_xyz: 2,
};
function tenStepTolerance(name: string): number | undefined {
  return TEN_STEP_TOL[name.replace(/_f64$/, '').replace(/^frames_/, '')];
}

t.test('committed parity fixture is fresh', { skip, timeout: 300_000 }, async (t) => {
  process.env.ALPAMAYO_TRT_NATIVE = REAL_ADDON;
  const { runCli } = await import('../lib/cli/runCli.js');
  const dir = t.testdir();
  const ckpt = join(dir, 'ckpt');
  t.equal(await runCli(['make-checkpoint', ckpt, '--preset', 'tiny', '--seed', '0'], { out: () => {}, err: (s) => t.comment(s) }), 0);
  const out = join(dir, 'tiny');
  const r = spawnSync(python!, [resolve('test/fixtures/parity/make_parity_fixtures.py'), '--checkpoint', ckpt, '--out', out], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  if (r.status !== 0) return;

  const fresh = JSON.parse(readFileSync(`${out}.json`, 'utf8')) as Record<string, unknown>;
  const committed = JSON.parse(readFileSync(`${FIXTURE_PREFIX}.json`, 'utf8')) as Record<string, unknown>;
  t.equal(fresh.weights_sha256_all, committed.weights_sha256_all, 'stale fixture: make-checkpoint now writes other weights; regenerate (test/fixtures/README.md)');
  t.equal(fresh.checkpoint_config_sha256, committed.checkpoint_config_sha256, 'stale fixture: config.json changed');
  for (const key of Object.keys(committed)) {
    if (key === 'command' || key === 'versions' || key.startsWith('selfcheck_')) continue;
    t.same(fresh[key], committed[key], `json ${key}`);
  }
  const a = readSafetensors(`${out}.safetensors`);
  const b = readSafetensors(`${FIXTURE_PREFIX}.safetensors`);
  t.same([...a.keys()].sort(), [...b.keys()].sort(), 'same tensor names');
  for (const [name, ref] of b) {
    const got = a.get(name);
    if (!got) continue;
    t.same(got.shape, ref.shape, `${name} shape`);
    // flow_x_all is [steps + 1, ...]: the noise and the first Euler step are exact, the rest chaotic.
    const tight = name === 'flow_x_all' ? 2 * (ref.data.length / (ref.shape[0] as number)) : ref.data.length;
    let scale = 1;
    let err = 0;
    let loose = 0;
    for (let i = 0; i < ref.data.length; i++) {
      scale = Math.max(scale, Math.abs(ref.data[i] as number));
      const d = Math.abs((got.data[i] as number) - (ref.data[i] as number));
      if (i < tight) err = Math.max(err, d);
      else loose = Math.max(loose, d);
    }
    const tenStep = tenStepTolerance(name);
    if (ref.data instanceof Int32Array) t.equal(err, 0, `${name} identical`);
    else if (tenStep !== undefined) t.ok(err <= tenStep, `${name} (10 Euler steps): max abs diff ${err} <= ${tenStep}`);
    else t.ok(err <= REL_TOL * scale, `${name}: max abs diff ${err} <= ${REL_TOL * scale}`);
    if (tight < ref.data.length) t.ok(loose <= 0.3, `${name} after the first Euler step: max abs diff ${loose} <= 0.3`);
  }
});

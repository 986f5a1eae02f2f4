import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../lib/cli/runCli.js';
import { buildPromptIds, HISTORY_TOKEN_COUNT } from '../lib/buildPrompt.js';
import { CALIBRATION_DIFFUSION_STEPS, syntheticCalibrationScenes } from '../lib/calibrateActivations.js';
import { imageTokenCount, visionSettingsFromConfig } from '../lib/imageTokenCount.js';
import { loadCheckpointTokenizer } from '../lib/loadCheckpointTokenizer.js';

// FP8 calibration on planner-shaped runs (lib/calibrateActivations.ts): build-engines --precision fp8
// plans synthetic 1920x1080 driving scenes through a real Planner on the CPU executor and records every
// linear's input. The statistics must come from the planner's layout (prompt length, 16 frames' patches,
// one expert pass per flow time), the sensitive layers must stay out of the fp8 scales, and the graphs'
// error against the fp32 CPU executor is reported for the planner and the former synthetic calibration.
const python = process.env.ALPAMAYO_PYTHON;
const addon = resolve('build/Release/alpamayo_trt.node');
const check = resolve('test/fixtures/onnx/check_model_export.py');
const skip = !python
  ? 'ALPAMAYO_PYTHON is not set (a python with numpy + onnxruntime runs the ONNX round trip)'
  : !existsSync(addon)
    ? `${addon} is not built (npm run build:native)`
    : false;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

// The tiny layout's default KV capacity (961) is below the real-shape reference cases (3,600 + 1 + 64).
const CAPACITY = ['--profile', 'kv_capacity=3712:3712:3712'];
const HIGH_PRECISION = /^(vlm\.model\.visual\.|vlm\.lm_head\.|action_in_proj\.|action_out_proj\.)/;

t.test('fp8 calibration: amax from planner-shaped plans, exclusions in force, error vs fp32 reported', { skip, timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'alp-fp8cal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ckpt = join(dir, 'ckpt');
  t.equal((await cli(['make-checkpoint', ckpt, '--preset', 'tiny', '--seed', '3'])).code, 0);
  const planner = join(dir, 'fp8-planner');
  const b = await cli(['build-engines', '--checkpoint', ckpt, '--out', planner, '--precision', 'fp8', '--export-only', '--calibration-scenes', '2', ...CAPACITY]);
  t.equal(b.code, 0, b.err);
  t.match(b.err, /calibrating fp8 activation scales: plan 2\/2 on the CPU executor/);
  t.notMatch(b.err, /synthetic runs/, 'the synthetic calibration did not run');
  const cal = JSON.parse(readFileSync(join(planner, 'calibration.json'), 'utf8')) as {
    source: string; scenes: number; diffusionSteps: number;
    amax: Record<string, number>; rows: Record<string, number>; calls: Record<string, number>;
  };
  t.equal(cal.source, 'planner');
  t.equal(cal.scenes, 2);

  // The planner's layout, computed here from the prompt builder and the processor's sizing rule.
  const config = JSON.parse(readFileSync(join(ckpt, 'config.json'), 'utf8')) as { vlm_config: { vision_config: { spatial_merge_size: number } } };
  const perImage = imageTokenCount(1920, 1080, visionSettingsFromConfig(config));
  const merge = config.vlm_config.vision_config.spatial_merge_size ** 2;
  const tok = await loadCheckpointTokenizer(ckpt);
  const scenes = syntheticCalibrationScenes(2);
  const promptLengths = scenes.map((s) => {
    const o: Parameters<typeof buildPromptIds>[1] = { imageTokenCounts: new Array<number>(16).fill(perImage), historyIds: new Int32Array(HISTORY_TOKEN_COUNT) };
    if (s.command !== undefined) o.command = s.command;
    return buildPromptIds(tok, o).length;
  });
  t.ok(scenes.some((s) => s.command !== undefined), 'a scene carries a command');
  const q0 = 'vlm.model.language_model.layers.0.self_attn.q_proj.weight';
  t.equal(cal.rows[q0], Math.max(...promptLengths), `the prefill ran the planner's prompt (${promptLengths.join(', ')} tokens: 16 x ${perImage} image tokens + template, history, command)`);
  t.ok(cal.calls[q0]! > 2 * 2, 'prefill plus reasoning decode steps of both plans');
  t.equal(cal.rows['vlm.model.visual.blocks.0.attn.qkv.weight'], 16 * perImage * merge, "the vision tower saw the 16 frames' patches");
  t.equal(cal.rows['expert.layers.0.self_attn.q_proj.weight'], 64, 'the expert ran the 64 action rows');
  t.equal(cal.calls['expert.layers.0.self_attn.q_proj.weight'], 2 * CALIBRATION_DIFFUSION_STEPS, 'one expert pass per flow time t = 0, 0.1, ..., 0.9 per plan');
  t.equal(cal.calls['action_in_proj.encoder.trunk.0.weight'], 2 * CALIBRATION_DIFFUSION_STEPS);

  // Sensitive layers: observed, but without fp8 scales (they stay fp16 in the graphs).
  const manifest = JSON.parse(readFileSync(join(planner, 'manifest.json'), 'utf8')) as { engines: Record<string, { fp8_scales?: Record<string, number> }> };
  const scaled = Object.values(manifest.engines).flatMap((e) => Object.keys(e.fp8_scales ?? {}));
  t.ok(scaled.length > 0);
  t.same(scaled.filter((k) => HIGH_PRECISION.test(k)), [], 'no fp8 scale for the vision tower, lm_head or the action projections');
  for (const k of ['vlm.lm_head.weight', 'action_in_proj.encoder.trunk.0.weight', 'action_out_proj.weight', 'vlm.model.visual.blocks.0.attn.qkv.weight'])
    t.ok(cal.amax[k]! > 0, `${k} was observed`);
  // The manifest's scales are the planner runs' amax / 448 (as fp16, core/fp8_scale.hpp).
  const s0 = manifest.engines.llm!.fp8_scales![`${q0}:input`]!;
  t.ok(Math.abs(s0 - cal.amax[q0]! / 448) <= 2e-3 * (cal.amax[q0]! / 448), `llm q_proj scale ${s0} == amax ${cal.amax[q0]} / 448`);

  // Before (synthetic) / after (planner): onnxruntime's fp8 graphs against the fp32 CPU executor.
  const synthetic = join(dir, 'fp8-synthetic');
  t.equal((await cli(['build-engines', '--checkpoint', ckpt, '--out', synthetic, '--precision', 'fp8', '--export-only', '--calibration', 'synthetic', ...CAPACITY])).code, 0);
  t.notOk(existsSync(join(synthetic, 'calibration.json')));
  const ref = join(dir, 'ref32');
  t.equal((await cli(['build-engines', '--checkpoint', ckpt, '--out', join(dir, 'fp32'), '--precision', 'fp32', '--export-only', '--reference', ref, ...CAPACITY])).code, 0);
  for (const [name, eng] of [['synthetic', synthetic], ['planner', planner]] as const) {
    const r = spawnSync(python!, [check, eng, ref, '--report-only'], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr.slice(-2000));
    t.comment(`fp8 (${name} calibration) vs fp32:\n${r.stdout}`);
    t.match(r.stdout, /fp32: \d+ cases, worst max_abs_err .*, 0 failed/);
  }
});

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../lib/cli/runCli.js';

// Export round trip: `build-engines` exports the tiny checkpoint's three graphs and the CPU executor's
// reference cases; test/fixtures/onnx/check_model_export.py runs them in onnxruntime and compares.
// Needs a Python with numpy + onnxruntime: ALPAMAYO_PYTHON=/path/to/python (CI provides it).
const python = process.env.ALPAMAYO_PYTHON;
const script = resolve('test/fixtures/onnx/check_model_export.py');
const lint = resolve('test/fixtures/onnx/lint_trt.py');
const addon = resolve('build/Release/alpamayo_trt.node');

function cli(args: string[]): { code: Promise<number>; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { code: runCli(args, { out: (s) => out.push(s), err: (s) => err.push(s) }), out, err };
}

const skip = !python
  ? 'ALPAMAYO_PYTHON is not set (a python with numpy + onnxruntime runs the ONNX round trip)'
  : !existsSync(addon)
    ? `${addon} is not built (npm run build:native)`
    : false;

// onnxruntime against the CPU executor, per precision: absolute + relative-to-max|reference| bounds.
// Typed graphs compute in fp16/bf16 while the CPU executor keeps fp32 activations, so the bound is a
// few units of the compute type's precision (measured worst, real-shape cases included: fp32 7.2e-6
// absolute, fp16 1.2e-3 and bf16 1.5e-2 of max|ref|). bf16 runs as an fp32 graph rounded to bf16 after
// every op (check_model_export.py: onnxruntime has no CPU bf16 kernels). fp8 reports only: the CPU
// executor's fp8 mode also quantises the layers the export keeps in fp16.
const tolerance = { fp32: ['--tol', '1e-4'], fp16: ['--tol', '1e-4', '--rtol', '3e-3'], bf16: ['--tol', '1e-4', '--rtol', '3e-2'], fp8: ['--report-only'] };

// Every Ops method as a small graph (native/export/op_zoo.cpp), in each precision, against NumPy.
t.test('op zoo: onnx.checker + onnxruntime match NumPy for every Ops method', { skip, timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'alp-zoo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const w = spawnSync(resolve('build/Release/alpamayo_native_tests'), ['export_op_zoo'], {
    encoding: 'utf8', env: { ...process.env, ALPAMAYO_ONNX_ZOO_DIR: dir } });
  t.equal(w.status, 0, `op zoo written (${w.stdout.slice(-500)})`);
  const r = spawnSync(python!, [resolve('test/fixtures/onnx/check_small_graphs.py'), dir], { encoding: 'utf8' });
  t.equal(r.status, 0, `check_small_graphs.py (failures: ${r.stdout.split('\n').filter((l) => l.startsWith('not ok')).join('; ')} ${r.stderr.slice(-2000)})`);
  t.match(r.stdout, /^\d{2,} passed, 0 failed$/m);
  t.match(r.stdout, /ok linear_bf16 \[linear, bf16/);
});

t.test('the export lint catches the defects it exists for', { skip }, async (t) => {
  const r = spawnSync(python!, [lint, '--selftest'], { encoding: 'utf8' });
  t.equal(r.status, 0, `lint_trt.py --selftest (stdout: ${r.stdout.slice(-2000)} stderr: ${r.stderr.slice(-2000)})`);
  t.match(r.stdout, /selftest: 7\/7 caught/);
});

for (const precision of ['fp32', 'fp16', 'bf16', 'fp8'] as const) {
  t.test(`build-engines --precision ${precision}: onnxruntime matches the CPU executor`, { skip, timeout: 300_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `alp-export-${precision}-`));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const ckpt = join(dir, 'ckpt');
    const eng = join(dir, 'engines');
    const ref = join(dir, 'ref');
    const mk = cli(['make-checkpoint', ckpt, '--preset', 'tiny', '--seed', '3']);
    t.equal(await mk.code, 0, mk.err.join('\n'));
    const b = cli(['build-engines', '--checkpoint', ckpt, '--out', eng, '--precision', precision,
      '--profile', 'seq=1:64:256', '--profile', 'kv_capacity=3712:3712:3712',
      '--profile', 'lanes=1:2:6', '--reference', ref, '--export-only']);
    t.equal(await b.code, 0, b.err.join('\n'));
    for (const f of ['vision.onnx', 'llm.onnx', 'expert_step.onnx', 'llm.onnx.data', 'manifest.json'])
      t.ok(existsSync(join(eng, f)), `${f} written`);

    const m = JSON.parse(readFileSync(join(eng, 'manifest.json'), 'utf8'));
    t.equal(m.engines.llm.precision, precision);
    t.same(m.engines.llm.profiles.map((p: { name: string }) => p.name), ['prefill', 'decode']);
    t.same(m.engines.llm.profiles[0].inputs.input_ids, { min: [1], opt: [64], max: [256] }, '--profile seq applies');
    t.same(m.engines.llm.profiles[1].inputs.input_ids, { min: [1], opt: [2], max: [6] }, 'decode is one token per lane');
    t.same(m.engines.llm.profiles[1].inputs.kv_write_index, { min: [1], opt: [2], max: [6] }, 'decode lanes = --profile lanes');
    t.same(m.engines.llm.profiles[0].inputs.kv_write_index, { min: [1], opt: [1], max: [1] }, 'prefill writes one lane');
    t.same(m.engines.expert_step.profiles[0].inputs.x, { min: [64, 2], opt: [128, 2], max: [384, 2] }, 'expert rows = 64 x lanes');
    const pastKey = m.engines.llm.io.find((x: { name: string }) => x.name === 'past_key.0');
    t.same(pastKey.shape, [-1, 2, 3712, 16], '[lanes, kv_heads, capacity (static), head_dim]');
    const computeType = { fp32: 'float32', fp16: 'float16', bf16: 'bfloat16', fp8: 'float16' }[precision];
    t.equal(pastKey.dtype, computeType, 'the KV cache is in the compute type');
    t.equal(m.kv_cache.dtype, computeType);
    t.same(m.engines.llm.profiles[1].inputs['past_key.0'], { min: [1, 2, 3712, 16], opt: [2, 2, 3712, 16], max: [6, 2, 3712, 16] },
      'the cache is bound at its capacity in every profile (static shapes)');
    t.equal(m.kv_cache.update, 'in_place');
    t.equal(m.kv_cache.capacity, 3712);
    t.ok(m.engines.expert_step.io.some((x: { name: string; mode: string }) => x.name === 'present_key.0' && x.mode === 'output'),
      'the expert writes its action rows past the prefix, in place');
    t.equal(Object.keys(m.engines.llm.fp8_scales ?? {}).length > 0, precision === 'fp8', 'fp8 scales only for fp8');
    t.equal(m.engines.llm.weight_bytes, statSync(join(eng, 'llm.onnx.data')).size, 'the manifest predicts the llm weights');
    if (!m.engines.llm.built)
      t.match(b.out.join('\n'), /trtexec --onnx=.*llm\.onnx --saveEngine=.*llm\.engine --stronglyTyped --profile=0 --minShapes=.* --profile=1 --minShapes=/);

    const l = spawnSync(python!, [lint, eng], { encoding: 'utf8' });
    t.comment(l.stdout);
    t.equal(l.status, 0, `lint_trt.py: no findings (stderr: ${l.stderr.slice(-3000)})`);
    t.match(l.stdout, /lint: 0 findings/);
    // The in-place cache: both graphs write it with TensorScatter at opset 24 (IKVCacheUpdateLayer).
    t.match(l.stdout, /llm\.onnx +opset 24 .*TensorScatter/);
    t.match(l.stdout, /expert_step\.onnx +opset 24 .*TensorScatter/);

    const ins = cli(['inspect', eng]);
    t.equal(await ins.code, 0);
    t.match(ins.out.join('\n'), /llm: llm\.engine \(.*\)/);

    const r = spawnSync(python!, [script, eng, ref, ...tolerance[precision]], { encoding: 'utf8' });
    t.comment(r.stdout);
    t.equal(r.status, 0, `check_model_export.py passes (stderr: ${r.stderr.slice(-3000)})`);
    t.match(r.stdout, /11 cases, worst max_abs_err .*, 0 failed/);
    // K = 3 decode lanes at different lengths and the expert over three ragged prefixes in one call.
    t.match(r.stdout, /decode_lanes3 logits +shape \(3, 4310\)/);
    t.match(r.stdout, /expert_lanes3 velocity +shape \(192, 2\)/);
    // The planner's real sequence shapes ran (at the tiny checkpoint's layer dims).
    for (const c of ['vision_720 ', 'prefill_3300 ', 'decode_3600 ', 'expert_prefix1 ', 'expert_prefix3600 ']) t.match(r.stdout, c);
    t.match(r.stdout, /prefill_3300 present_key\.0 +shape \(1, 2, 3712, 16\)/);
    t.match(r.stdout, /decode_3600 +present_key\.0 +shape \(1, 2, 3712, 16\)/);
    t.match(r.stdout, /decode_lanes3 present_key\.0 +shape \(3, 2, 3712, 16\)/);
  });
}

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../lib/cli/runCli.js';

// Export round trip: `build-engines` exports the tiny checkpoint's three graphs and the CPU executor's
// reference cases; test/fixtures/onnx/check_model_export.py runs them in onnxruntime and compares.
// Needs a Python with numpy + onnxruntime: ALPAMAYO_PYTHON=/path/to/python (CI provides it).
const python = process.env.ALPAMAYO_PYTHON;
const script = resolve('test/fixtures/onnx/check_model_export.py');
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

for (const precision of ['fp32', 'fp16', 'fp8'] as const) {
  t.test(`build-engines --precision ${precision}: onnxruntime matches the CPU executor`, { skip, timeout: 300_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `alp-export-${precision}-`));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const ckpt = join(dir, 'ckpt');
    const eng = join(dir, 'engines');
    const ref = join(dir, 'ref');
    const mk = cli(['make-checkpoint', ckpt, '--preset', 'tiny', '--seed', '3']);
    t.equal(await mk.code, 0, mk.err.join('\n'));
    const b = cli(['build-engines', '--checkpoint', ckpt, '--out', eng, '--precision', precision,
      '--profile', 'seq=1:64:256', '--profile', 'past_len=0:64:256', '--reference', ref]);
    t.equal(await b.code, 0, b.err.join('\n'));
    for (const f of ['vision.onnx', 'llm.onnx', 'expert_step.onnx', 'llm.onnx.data', 'manifest.json'])
      t.ok(existsSync(join(eng, f)), `${f} written`);

    const m = JSON.parse(readFileSync(join(eng, 'manifest.json'), 'utf8'));
    t.equal(m.engines.llm.precision, precision);
    t.same(m.engines.llm.profiles.map((p: { name: string }) => p.name), ['prefill', 'decode']);
    t.same(m.engines.llm.profiles[0].inputs.input_ids, { min: [1], opt: [64], max: [256] }, '--profile seq applies');
    t.same(m.engines.llm.profiles[1].inputs.input_ids, { min: [1], opt: [1], max: [1] }, 'decode is one token');
    t.same(m.engines.llm.io.find((x: { name: string }) => x.name === 'past_key.0').shape, [-1, 2, 16]);
    t.equal(m.kv_cache.update, 'concat');
    t.equal(Object.keys(m.engines.llm.fp8_scales ?? {}).length > 0, precision === 'fp8', 'fp8 scales only for fp8');
    if (!m.engines.llm.built) t.match(b.out.join('\n'), /trtexec --onnx=.*llm\.onnx --saveEngine=.*llm\.engine --minShapes=/);

    const ins = cli(['inspect', eng]);
    t.equal(await ins.code, 0);
    t.match(ins.out.join('\n'), /llm: llm\.engine \(.*\)/);

    const r = spawnSync(python!, [script, eng, ref, ...(precision === 'fp8' ? ['--report-only'] : ['--tol', precision === 'fp32' ? '1e-4' : '2e-3'])],
      { encoding: 'utf8' });
    t.comment(r.stdout);
    t.equal(r.status, 0, `check_model_export.py passes (stderr: ${r.stderr.slice(-3000)})`);
    t.match(r.stdout, /4 cases, worst max_abs_err .*, 0 failed/);
  });
}

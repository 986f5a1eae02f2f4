import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../lib/cli/runCli.js';

// onnxruntime against the CPU executor at the release's layer dims (the `realdims` preset: hidden 4096,
// 32 q / 8 kv heads x 128, intermediate 12288, vision 1152/4304 with DeepStack, expert 2048/8256; 2
// backbone layers, 1 expert layer, 2 vision blocks) and the planner's real shapes: vision 720 patches,
// decode over 3,600 cached rows without image rows, expert prefixes 1 and 3,600, and a prefill of the
// planner's layout. The CPU executor needs ~600 CPU-seconds for the full 3,300-token prefill at these
// widths, so npm test runs it with 1 of the 16 frames (570 tokens: 182 image + the layout's 388 text
// tokens); ALPAMAYO_REALDIMS_FRAMES=16 runs the full 3,300 tokens with 2,880 image rows.
// Every precision is compared with the fp32 CPU executor: what a typed graph loses against fp32.
const python = process.env.ALPAMAYO_PYTHON;
const addon = resolve('build/Release/alpamayo_trt.node');
const check = resolve('test/fixtures/onnx/check_model_export.py');
const frames = Number(process.env.ALPAMAYO_REALDIMS_FRAMES ?? '1');
const prompt = 388 + 182 * frames;
const skip = !python
  ? 'ALPAMAYO_PYTHON is not set (a python with numpy + onnxruntime runs the ONNX round trip)'
  : !existsSync(addon)
    ? `${addon} is not built (npm run build:native)`
    : false;

// Bounds: absolute + a fraction of max|reference| per output. fp32 differs from the CPU executor only
// in summation order; the typed graphs round weights, activations and the KV cache to their compute
// type (fp16: 11 bits, bf16: 8 bits) over sums of 4,096-12,288 terms and softmaxes over 3,600 keys.
const tolerance = { fp32: ['--tol', '1e-4', '--rtol', '1e-5'], fp16: ['--tol', '1e-4', '--rtol', '5e-3'], bf16: ['--tol', '1e-4', '--rtol', '6e-2'], fp8: ['--report-only'] };

async function cli(args: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await runCli(args, { out: () => {}, err: (s) => err.push(s) });
  return { code, err: err.join('\n') };
}

/** Worst absolute and relative-to-max|ref| error over the outputs check_model_export.py printed. */
function worst(stdout: string): { abs: number; rel: number; at: string } {
  let abs = 0, rel = 0, at = '';
  for (const m of stdout.matchAll(/^\S+\s+(\S+)\s+(\S+)\s+shape .* max_abs_err (\S+)\s+max\|ref\| (\S+)$/gm)) {
    const e = Number(m[3]), s = Number(m[4]);
    abs = Math.max(abs, e);
    if (s > 0 && e / s > rel) [rel, at] = [e / s, `${m[1]}.${m[2]}`];
  }
  return { abs, rel, at };
}

t.test(`realdims: onnxruntime matches the CPU executor at the release's layer dims (prefill ${prompt} tokens)`, { skip, timeout: 3_600_000 }, async (t) => {
  t.ok(Number.isInteger(frames) && frames >= 1 && frames <= 16, 'ALPAMAYO_REALDIMS_FRAMES is 1..16');
  const dir = mkdtempSync(join(tmpdir(), 'alp-realdims-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ckpt = join(dir, 'ckpt');
  const ref = join(dir, 'ref');
  const mk = await cli(['make-checkpoint', ckpt, '--preset', 'realdims', '--seed', '3']);
  t.equal(mk.code, 0, mk.err);
  const config = JSON.parse(readFileSync(join(ckpt, 'config.json'), 'utf8')) as {
    vlm_config: { text_config: Record<string, number>; vision_config: Record<string, number> }; expert_cfg: Record<string, number>;
  };
  t.match(config.vlm_config.text_config, { hidden_size: 4096, intermediate_size: 12288, num_attention_heads: 32, num_key_value_heads: 8, head_dim: 128 });
  t.match(config.vlm_config.vision_config, { hidden_size: 1152, intermediate_size: 4304, num_heads: 16, patch_size: 16 });
  t.match(config.expert_cfg, { hidden_size: 2048, intermediate_size: 8256, num_attention_heads: 16, num_hidden_layers: 1 });

  for (const precision of ['fp32', 'fp16', 'bf16', 'fp8'] as const) {
    const eng = join(dir, precision);
    const args = ['build-engines', '--checkpoint', ckpt, '--out', eng, '--precision', precision, '--export-only'];
    // fp32 writes the reference every precision is compared with; fp8 calibrates on the short synthetic
    // scenes (a planner-shaped calibration plan is a full 3,300-token CPU prefill: test/fp8Calibration).
    if (precision === 'fp32') args.push('--reference', ref, '--reference-cases', 'real', '--reference-frames', String(frames));
    if (precision === 'fp8') args.push('--calibration', 'synthetic');
    const started = Date.now();
    const b = await cli(args);
    t.equal(b.code, 0, b.err);
    const exported = Date.now();
    const r = spawnSync(python!, [check, eng, ref, ...tolerance[precision]], { encoding: 'utf8' });
    t.equal(r.status, 0, `${precision}: check_model_export.py (${r.stdout.split('\n').filter((l) => l.startsWith('FAIL')).join('; ')} ${r.stderr.slice(-2000)})`);
    t.match(r.stdout, /5 cases, worst max_abs_err .*, 0 failed/);
    t.match(r.stdout, /vision_720 +image_embeds +shape \(180, 4096\)/);
    // The in-place cache: [lanes, kv heads, capacity, head_dim] at the manifest's (static) capacity.
    const cap = (JSON.parse(readFileSync(join(eng, 'manifest.json'), 'utf8')) as { kv_cache: { capacity: number } }).kv_cache.capacity;
    t.ok(cap >= 3600 + 1 + 64, `KV capacity ${cap} holds decode_3600 and the expert's rows`);
    t.match(r.stdout, new RegExp(`prefill_${prompt} +present_key\\.1 +shape \\(1, 8, ${cap}, 128\\)`));
    t.match(r.stdout, new RegExp(`decode_3600 +present_value\\.1 +shape \\(1, 8, ${cap}, 128\\)`));
    t.match(r.stdout, /expert_prefix3600 +velocity/);
    t.match(r.stdout, /expert_prefix1 +velocity/);
    const w = worst(r.stdout);
    t.comment(`${precision}: worst abs ${w.abs.toExponential(2)}, worst rel ${w.rel.toExponential(2)} (${w.at}); export ${((exported - started) / 1000).toFixed(0)} s, onnxruntime ${((Date.now() - exported) / 1000).toFixed(0)} s\n${r.stdout}`);
    rmSync(eng, { recursive: true, force: true });
  }
});

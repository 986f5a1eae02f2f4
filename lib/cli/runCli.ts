import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AlpamayoError } from '../AlpamayoError.js';
import { CALIBRATION_DIFFUSION_STEPS, calibrateActivations, syntheticCalibrationScenes } from '../calibrateActivations.js';
import { formatPlan, planToJson } from './formatPlan.js';
import { isCheckpointPreset, makeCheckpoint } from '../makeCheckpoint.js';
import { backends, loadNative, nativeBinaryPath } from '../native.js';
import { integerFlag, numberFlag as num, parseFlags } from './parseFlags.js';
import { Planner } from '../Planner.js';
import { readInputsFile } from './readInputsFile.js';
import { EXTRA_COMMANDS, EXTRA_USAGE } from './extraCommands.js';
import type { LoadOptions, PlanOptions } from '../types.js';
import type { NativeAddon } from '../binding.js';
import { version } from '../version.js';

/** Where the CLI writes. @internal */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const CLI_USAGE = `alpamayo-trt: run NVIDIA Alpamayo 1 (camera frames + ego history -> reasoning + 64 waypoints)

Usage:
  alpamayo-trt --help | --version
  alpamayo-trt info [--json]                      native variant, backends, CUDA devices
  alpamayo-trt inspect <checkpoint|engines dir> [--json]
                                                  config summary, tensor count and bytes per component
  alpamayo-trt make-checkpoint DIR [--preset tiny|small|realdims] [--seed N]
                                                  write a small random-weight test checkpoint
  alpamayo-trt build-engines --checkpoint DIR --out DIR --precision fp8|fp16|bf16|fp32
                    [--profile dim=min:opt:max ...] [--reference DIR] [--export-only]
                    [--calibration planner|synthetic] [--calibration-scenes N]
                    [--reference-cases all|real] [--reference-frames 1..16]
                                                  export vision/llm/expert_step ONNX, write manifest.json,
                                                  build TensorRT engines (or print the trtexec commands);
                                                  --export-only: never build, even with TensorRT compiled in;
                                                  dims: images, patches, image_tokens, seq, lanes, kv_capacity. Exits 1 when
                                                  the engines were not built, unless --export-only.
                                                  fp8: activation scales from N (default 2) full plans of
                                                  synthetic driving scenes on the CPU executor (planner),
                                                  or from two short synthetic scenes (synthetic); the
                                                  statistics go to calibration.json. --reference writes
                                                  CPU-executor cases (all, or the planner's real shapes
                                                  only, with a prefill of N of the 16 frames)
  alpamayo-trt plan --checkpoint DIR --inputs FILE.json [--json]
                    [--backend auto|cpu|cuda|tensorrt] [--engines DIR] [--precision P]
                    [--seed N] [--samples K] [--temperature T] [--top-p P] [--steps N]
                    [--max-tokens N] [--noise FILE] [--reasoning TEXT] [--command TEXT]
${EXTRA_USAGE}

Inputs file (paths relative to it; .rgb = raw RGB bytes needing width/height; .png/.jpg need 'sharp'):
  { "frames": { "front_wide": [{ "path": "fw0.rgb", "width": 576, "height": 320, "timestampUs": 1000000 }, ...x4],
                "front_tele": [...], "cross_left": [...], "cross_right": [...] },
    "egoHistory": [{ "timestampUs": 0, "position": [x, y, z], "rotation": [9 numbers, row-major] }, ...x16],
    "command": "optional" }
--noise: samples*64*2 float32 values, raw little-endian or a JSON array.

Environment: ALPAMAYO_TRT_NATIVE=/path/alpamayo_trt.node overrides the native binary.`;

function summarizeConfig(config: unknown): Record<string, unknown> {
  const keys = ['architectures', 'model_type', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'intermediate_size', 'vocab_size'];
  const out: Record<string, unknown> = {};
  const visit = (node: unknown, prefix: string): void => {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return;
    for (const [k, v] of Object.entries(node)) {
      if (keys.includes(k)) out[prefix + k] = v;
      else if (typeof v === 'object' && v !== null && !Array.isArray(v)) visit(v, `${prefix}${k}.`);
    }
  };
  visit(config, '');
  return out;
}

async function readNoise(path: string): Promise<Float32Array> {
  const bytes = await readFile(path);
  if (path.endsWith('.json')) return Float32Array.from(JSON.parse(bytes.toString('utf8')) as number[]);
  if (bytes.byteLength % 4 !== 0) throw new AlpamayoError(`--noise: ${path} has ${bytes.byteLength} bytes, not a whole number of float32`, 'INVALID_INPUT', { field: '--noise' });
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

interface EnginesManifest {
  model_config_sha256?: string;
  model?: { hidden_size?: number; vocab_size?: number };
  kv_cache?: { layers?: number; kv_heads?: number; head_dim?: number; capacity?: number; dtype?: string; update?: string };
  engines?: Record<string, {
    file?: string; onnx?: string; precision?: string; built?: boolean; tensorrt_version?: string; compute_capability?: string;
    io?: { name: string; mode: string; dtype: string; shape: number[] }[];
    profiles?: { name: string; inputs: Record<string, { min: number[]; opt: number[]; max: number[] }> }[];
    fp8_scales?: Record<string, number>;
    weight_bytes?: number;
  }>;
}

/** Human summary of an engines manifest. @internal */
export function summarizeManifest(dir: string, m: EnginesManifest): string {
  const kv = m.kv_cache ?? {};
  const lines = [
    `engines ${dir}`,
    `  model config sha256: ${m.model_config_sha256 ?? '?'}`,
    `  hidden ${m.model?.hidden_size ?? '?'}, vocab ${m.model?.vocab_size ?? '?'}`,
    `  kv cache: ${kv.layers} layers x ${kv.kv_heads} heads x ${kv.head_dim}, capacity ${kv.capacity}, ${kv.dtype}, update ${kv.update}`,
  ];
  const dims = (s: number[]): string => `[${s.map((d) => (d < 0 ? '?' : String(d))).join(', ')}]`;
  for (const [name, e] of Object.entries(m.engines ?? {})) {
    const state = e.built === false ? 'NOT BUILT' : `TensorRT ${e.tensorrt_version} ${e.compute_capability}`;
    lines.push(`  ${name}: ${e.file} (${e.precision}, ${state})${e.onnx ? ` from ${e.onnx}` : ''}`);
    for (const t of e.io ?? []) lines.push(`    ${t.mode.padEnd(6)} ${t.name.padEnd(24)} ${t.dtype.padEnd(8)} ${dims(t.shape)}`);
    for (const p of e.profiles ?? []) {
      const r = Object.entries(p.inputs).map(([k, v]) => `${k} ${dims(v.min)}..${dims(v.max)}`);
      lines.push(`    profile ${p.name}: ${r.length ? r.join('; ') : 'static'}`);
    }
    if (e.weight_bytes) lines.push(`    weights: ${(e.weight_bytes / 1e6).toFixed(1)} MB (${e.precision})`);
    const scales = Object.keys(e.fp8_scales ?? {}).length;
    if (scales) lines.push(`    fp8 scales: ${scales}`);
  }
  return lines.join('\n');
}

async function inspect(target: string, json: boolean, io: CliIo): Promise<void> {
  const manifest = join(target, 'manifest.json');
  const isEngines = await stat(manifest).then(() => true, () => false);
  if (isEngines) {
    const m = JSON.parse(await readFile(manifest, 'utf8')) as EnginesManifest;
    io.out(json ? JSON.stringify(m, null, 2) : summarizeManifest(target, m));
    return;
  }
  const r = loadNative().inspectCheckpoint(target);
  if (json) {
    io.out(JSON.stringify(r, null, 2));
    return;
  }
  const lines = [`checkpoint ${target}`];
  for (const [k, v] of Object.entries(summarizeConfig(r.config))) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  lines.push(`  tensors: ${r.tensors}, bytes: ${r.bytes}`);
  for (const [name, c] of Object.entries(r.components)) lines.push(`  ${name.padEnd(28)} ${String(c.tensors).padStart(6)} tensors ${String(c.bytes).padStart(14)} bytes`);
  io.out(lines.join('\n'));
}

/**
 * Runs the `alpamayo-trt` command line; returns the exit code (errors are printed, not thrown).
 * @internal
 */
export async function runCli(argv: readonly string[], io: CliIo = { out: (s) => console.log(s), err: (s) => console.error(s) }): Promise<number> {
  try {
    // Commands with their own flags (evaluation, workers, synthetic clips) parse their arguments themselves.
    const extra = EXTRA_COMMANDS.get(argv[0] ?? '');
    if (extra) return await extra(argv.slice(1), io);
    const { values, positionals } = parseFlags(argv, {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        'export-only': { type: 'boolean' },
        json: { type: 'boolean' },
        preset: { type: 'string' },
        seed: { type: 'string' },
        checkpoint: { type: 'string' },
        engines: { type: 'string' },
        inputs: { type: 'string' },
        backend: { type: 'string' },
        precision: { type: 'string' },
        samples: { type: 'string' },
        temperature: { type: 'string' },
        'top-p': { type: 'string' },
        steps: { type: 'string' },
        'max-tokens': { type: 'string' },
        noise: { type: 'string' },
        reasoning: { type: 'string' },
        command: { type: 'string' },
        out: { type: 'string' },
        profile: { type: 'string', multiple: true },
        reference: { type: 'string' },
        calibration: { type: 'string' },
        'calibration-scenes': { type: 'string' },
        'reference-cases': { type: 'string' },
        'reference-frames': { type: 'string' },
    });
    const [cmd, ...rest] = positionals;
    if (values.version) {
      io.out(version);
      return 0;
    }
    if (values.help || cmd === undefined || cmd === 'help') {
      io.out(CLI_USAGE);
      return cmd === undefined && !values.help ? 1 : 0;
    }
    switch (cmd) {
      case 'info': {
        const info = backends();
        if (values.json) io.out(JSON.stringify({ binary: nativeBinaryPath(), ...info }, null, 2));
        else {
          io.out(
            [
              `native binary: ${nativeBinaryPath()}`,
              `variant: ${info.variant}`,
              'cpu: yes',
              `cuda: ${info.cuda.compiled ? `compiled, ${info.cuda.devices} device(s)` : 'not compiled'}${info.cuda.error ? ` (${info.cuda.error})` : ''}`,
              `tensorrt: ${info.tensorrt.compiled ? `compiled (version ${info.tensorrt.version})` : 'not compiled'}`,
            ].join('\n'),
          );
        }
        return 0;
      }
      case 'inspect': {
        if (!rest[0]) throw new AlpamayoError('inspect: expected a checkpoint or engines directory', 'INVALID_INPUT', { field: 'inspect' });
        await inspect(rest[0], values.json === true, io);
        return 0;
      }
      case 'make-checkpoint': {
        const dir = rest[0];
        if (!dir) throw new AlpamayoError('make-checkpoint: expected a directory', 'INVALID_INPUT', { field: 'make-checkpoint' });
        const preset = values.preset ?? 'tiny';
        if (!isCheckpointPreset(preset)) throw new AlpamayoError(`--preset: expected tiny, small or realdims, got '${preset}'`, 'INVALID_INPUT', { field: '--preset' });
        const seed = integerFlag('seed', values.seed) ?? 0;
        await makeCheckpoint(dir, { preset, seed });
        io.out(`wrote ${preset} checkpoint (seed ${seed}) to ${dir}`);
        return 0;
      }
      case 'build-engines': {
        if (!values.checkpoint || !values.out || !values.precision)
          throw new AlpamayoError('build-engines: --checkpoint DIR, --out DIR and --precision fp8|fp16|bf16|fp32 are required', 'INVALID_INPUT', { field: 'build-engines' });
        const calibration = values.calibration ?? 'planner';
        if (calibration !== 'planner' && calibration !== 'synthetic')
          throw new AlpamayoError(`--calibration: expected planner or synthetic, got '${calibration}'`, 'INVALID_INPUT', { field: '--calibration' });
        const scenes = integerFlag('calibration-scenes', values['calibration-scenes']) ?? 2;
        if (scenes < 1) throw new AlpamayoError(`--calibration-scenes: expected >= 1, got ${scenes}`, 'INVALID_INPUT', { field: '--calibration-scenes' });
        let amax: Record<string, number> | undefined;
        if (values.precision === 'fp8' && calibration === 'planner') {
          const stats = await calibrateActivations(values.checkpoint, syntheticCalibrationScenes(scenes), (msg) => io.err(msg));
          await mkdir(values.out, { recursive: true });
          await writeFile(join(values.out, 'calibration.json'),
            `${JSON.stringify({ source: 'planner', scenes, diffusionSteps: CALIBRATION_DIFFUSION_STEPS, ...stats }, null, 1)}\n`);
          amax = stats.amax;
        }
        const cases = values['reference-cases'] ?? 'all';
        if (cases !== 'all' && cases !== 'real')
          throw new AlpamayoError(`--reference-cases: expected all or real, got '${cases}'`, 'INVALID_INPUT', { field: '--reference-cases' });
        const frames = integerFlag('reference-frames', values['reference-frames']) ?? 16;
        if (frames < 1 || frames > 16)
          throw new AlpamayoError(`--reference-frames: expected 1..16, got ${frames}`, 'INVALID_INPUT', { field: '--reference-frames' });
        const exportOnly = values['export-only'] === true;
        const exportOpts: Parameters<NativeAddon['exportEngines']>[6] = { referenceCases: cases, referenceFrames: frames, exportOnly };
        if (amax) exportOpts.activationAmax = amax;
        const r = loadNative().exportEngines(values.checkpoint, values.out, values.precision, values.profile ?? [], values.reference, (msg) => io.err(msg), exportOpts);
        io.out(`wrote ${join(values.out, 'manifest.json')}`);
        if (!r.built) {
          io.out(
            exportOnly
              ? '--export-only: the ONNX graphs and manifest.json are written, the engines are NOT built.'
              : 'TensorRT is not compiled into this addon: the ONNX graphs and manifest.json are written, the engines are NOT built.',
          );
          io.out('Build them on the target GPU with:');
          for (const c of r.trtexec) io.out(`  ${c}`);
          io.out('then record tensorrt_version, compute_capability, sha256 and "built": true in manifest.json (or rerun build-engines with a TensorRT-enabled addon).');
          // A script that asked for engines must not carry on as if it had them.
          if (!values['export-only']) {
            io.err('alpamayo-trt: build-engines: engines NOT built (pass --export-only when the ONNX export is all you need)');
            return 1;
          }
        }
        return 0;
      }
      case 'plan': {
        if (!values.checkpoint || !values.inputs) throw new AlpamayoError('plan: --checkpoint DIR and --inputs FILE.json are required', 'INVALID_INPUT', { field: 'plan' });
        const load: Record<string, unknown> = { checkpoint: values.checkpoint };
        if (values.backend) load.backend = values.backend;
        if (values.engines) load.engines = values.engines;
        if (values.precision) load.precision = values.precision;
        const opts: Record<string, unknown> = {};
        const set = (key: keyof PlanOptions, v: unknown): void => {
          if (v !== undefined) opts[key] = v;
        };
        set('seed', integerFlag('seed', values.seed));
        set('samples', integerFlag('samples', values.samples));
        set('temperature', num('temperature', values.temperature));
        set('topP', num('top-p', values['top-p']));
        set('diffusionSteps', integerFlag('steps', values.steps));
        set('maxReasoningTokens', integerFlag('max-tokens', values['max-tokens']));
        set('reasoningTokens', values.reasoning);
        // After the flags: a typo in a number is reported before any file is read.
        const inputs = await readInputsFile(values.inputs);
        set('command', values.command ?? inputs.command);
        if (values.noise) opts.initialNoise = await readNoise(values.noise);
        // --json is the machine-readable form: it carries the controls and token ids too.
        if (values.json) {
          opts.returnActions = true;
          opts.returnTokens = true;
        }
        const planner = await Planner.load(load as unknown as LoadOptions);
        try {
          if (!values.json) opts.onToken = (text: string) => process.stderr.write(text);
          const r = await planner.plan(inputs.frames, inputs.egoHistory, opts as PlanOptions);
          if (!values.json) process.stderr.write('\n');
          io.out(values.json ? JSON.stringify(planToJson(r)) : formatPlan(r));
        } finally {
          await planner.dispose();
        }
        return 0;
      }
      default:
        io.err(`alpamayo-trt: unknown command '${cmd}'\n\n${CLI_USAGE}`);
        return 1;
    }
  } catch (err) {
    if (err instanceof AlpamayoError) io.err(`alpamayo-trt: ${err.code}: ${err.message}`);
    else io.err(`alpamayo-trt: ${(err as Error).message ?? String(err)}`);
    return 1;
  }
}

// `alpamayo-trt eval`: open-loop evaluation over PhysicalAI-AV clips into a JSON-lines file, in this
// process or through a Redis queue served by `alpamayo-trt worker` processes.
import { existsSync, readFileSync } from 'node:fs';
import { AlpamayoError } from '../AlpamayoError.js';
import { PhysicalAIAVDataset } from '../dataset/PhysicalAIAVDataset.js';
import { evaluateClipsOnQueue } from '../eval/evalQueue.js';
import { evaluateClips, type ClipFailure, type ClipResult, type EvalSettings } from '../eval/evaluateClips.js';
import { appendResult, readResultsFile } from '../eval/resultsFile.js';
import { formatSummaryTable, summarizeResults } from '../eval/summarizeResults.js';
import { Planner } from '../Planner.js';
import type { LoadOptions } from '../types.js';
import { integerFlag, numberFlag, requiredFlag } from './cliFlags.js';
import { ProgressBar } from './progressBar.js';
import { parseFlags } from './parseFlags.js';
import type { CliIo } from './runCli.js';

export const EVAL_USAGE = `alpamayo-trt eval --checkpoint DIR --data DIR --out results.jsonl [--clips LIST] [--samples 6] [--t0 5.1] [--seed N]
                  [--backend auto|cpu|cuda|tensorrt] [--engines DIR] [--precision P] [--threads N]
                  [--temperature T] [--top-p P] [--steps N] [--max-tokens N] [--prefetch N]
                  [--queue redis://HOST:PORT [--queue-name NAME] [--worker-timeout SECONDS]]
  Open-loop evaluation (minADE/ADE/FDE at 0.5, 1, 3, 5, 6.4 s) on PhysicalAI-AV clips: one JSON line per clip,
  then mean/median/p90 per metric. Clips already in --out are skipped (resume); each clip's seed depends only
  on --seed and the clip id. --clips: comma-separated ids, or a file with one id per line (default: all).
  --queue: enqueue one job per clip on Redis (BullMQ) and collect the results of 'alpamayo-trt worker's.
  --worker-timeout: with --queue, fail (BACKEND_UNAVAILABLE, exit 1, naming the clips not evaluated) once no
  worker has been alive for this long (default 300 s; a killed worker stops counting one --lock-ms after it
  died). Results already collected are kept; the jobs stay queued for the next run.`;

export const WORKER_USAGE = `alpamayo-trt worker --queue redis://HOST:PORT --checkpoint DIR [--data DIR] [--queue-name NAME] [--lock-ms MS]
                    [--backend auto|cpu|cuda|tensorrt] [--engines DIR] [--precision P] [--threads N] [--device N]
  Serves evaluation jobs from the queue with its own planner (run one per GPU, --device N); --data overrides the
  dataset path sent by 'eval'. A job whose worker dies is given to another after --lock-ms (default 30000); the
  worker's heartbeat key expires after the same time, after which 'eval' stops counting it as alive.`;

/** Planner flags shared by eval and worker. @internal */
export const PLANNER_FLAGS = {
  checkpoint: { type: 'string' },
  backend: { type: 'string' },
  engines: { type: 'string' },
  precision: { type: 'string' },
  threads: { type: 'string' },
  device: { type: 'string' },
} as const;

/** LoadOptions from the planner flags. @internal */
export function loadOptionsFromFlags(command: string, v: { checkpoint?: string; backend?: string; engines?: string; precision?: string; threads?: string; device?: string }): LoadOptions {
  const load: Record<string, unknown> = { checkpoint: requiredFlag(command, 'checkpoint', v.checkpoint) };
  if (v.backend) load.backend = v.backend;
  if (v.engines) load.engines = v.engines;
  if (v.precision) load.precision = v.precision;
  if (v.threads !== undefined) load.threads = integerFlag('threads', v.threads, 0, 1024);
  if (v.device !== undefined) load.device = integerFlag('device', v.device, 0, 1024);
  return load as unknown as LoadOptions;
}

function clipList(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const text = existsSync(v) ? readFileSync(v, 'utf8') : v;
  const ids = text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s && !s.startsWith('#'));
  if (!ids.length) throw new AlpamayoError(`--clips: no clip ids in '${v}'`, 'INVALID_INPUT', { field: '--clips', actual: v });
  return ids;
}

function isResult(r: ClipResult | ClipFailure): r is ClipResult {
  return !('error' in r);
}

/** @internal */
export async function runEval(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    help: { type: 'boolean', short: 'h' },
    ...PLANNER_FLAGS,
    data: { type: 'string' },
    clips: { type: 'string' },
    samples: { type: 'string' },
    t0: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    steps: { type: 'string' },
    'max-tokens': { type: 'string' },
    prefetch: { type: 'string' },
    queue: { type: 'string' },
    'queue-name': { type: 'string' },
    'worker-timeout': { type: 'string' },
  });
  if (values.help) {
    io.out(EVAL_USAGE);
    return 0;
  }
  if (positionals.length) throw new AlpamayoError(`eval: unexpected argument '${positionals[0]}'`, 'INVALID_INPUT', { field: 'eval', actual: positionals });
  const data = requiredFlag('eval', 'data', values.data);
  const out = requiredFlag('eval', 'out', values.out);
  const t0 = numberFlag('t0', values.t0) ?? 5.1;
  const plan: NonNullable<EvalSettings['plan']> = {};
  const temperature = numberFlag('temperature', values.temperature);
  const topP = numberFlag('top-p', values['top-p']);
  const steps = integerFlag('steps', values.steps, 1, 100);
  const maxTokens = integerFlag('max-tokens', values['max-tokens'], 1, 4096);
  if (temperature !== undefined) plan.temperature = temperature;
  if (topP !== undefined) plan.topP = topP;
  if (steps !== undefined) plan.diffusionSteps = steps;
  if (maxTokens !== undefined) plan.maxReasoningTokens = maxTokens;
  const settings: EvalSettings = {
    t0Us: Math.round(t0 * 1e6),
    samples: integerFlag('samples', values.samples, 1, 16) ?? 6,
    seed: integerFlag('seed', values.seed, 0, 0xffffffff) ?? 0,
    plan,
  };
  const workerTimeout = numberFlag('worker-timeout', values['worker-timeout']);
  if (workerTimeout !== undefined && !(workerTimeout >= 0.1 && workerTimeout <= 86_400))
    throw new AlpamayoError(`--worker-timeout: expected seconds in [0.1, 86400], got '${values['worker-timeout']}'`, 'INVALID_INPUT', { field: '--worker-timeout', expected: 'seconds in [0.1, 86400]', actual: values['worker-timeout'] });
  if (workerTimeout !== undefined && !values.queue) throw new AlpamayoError('--worker-timeout: only with --queue', 'INVALID_INPUT', { field: '--worker-timeout', expected: '--queue', actual: values['worker-timeout'] });
  // Validate the planner flags before any work, also in queue mode (where workers load the planner).
  const load = values.queue ? undefined : loadOptionsFromFlags('eval', values);
  const ignored = Object.keys(PLANNER_FLAGS).filter((k) => values.queue && values[k as keyof typeof PLANNER_FLAGS] !== undefined);
  if (ignored.length) io.err(`eval: ${ignored.map((k) => `--${k}`).join(', ')} ignored with --queue (each worker loads its own planner)`);

  const dataset = await PhysicalAIAVDataset.open(data);
  try {
    const clips = clipList(values.clips) ?? dataset.clipIds;
    for (const c of clips) dataset.chunkOf(c);
    const previous = (await readResultsFile(out)).filter((r) => r.t0Us === settings.t0Us);
    const done = new Set(previous.map((r) => r.clip));
    const todo = clips.filter((c) => !done.has(c));
    const wanted = new Set(clips);
    const results = previous.filter((r) => wanted.has(r.clip));
    io.err(`eval: ${clips.length} clips, ${clips.length - todo.length} already in ${out}, ${todo.length} to run (t0 ${t0} s, ${settings.samples} samples)`);
    let failures = 0;
    if (todo.length) {
      const bar = new ProgressBar(todo.length);
      let source: AsyncGenerator<ClipResult | ClipFailure>;
      let planner: Planner | undefined;
      if (values.queue) {
        source = evaluateClipsOnQueue({
          queue: values.queue,
          ...(values['queue-name'] ? { queueName: values['queue-name'] } : {}),
          ...(workerTimeout !== undefined ? { workerTimeoutMs: Math.round(workerTimeout * 1000) } : {}),
          data,
          clips: todo,
          ...settings,
          onEnqueued: (n) => io.err(`eval: ${n} jobs on ${values.queue}; waiting for workers (alpamayo-trt worker --queue ${values.queue} --checkpoint DIR)`),
        });
      } else {
        planner = await Planner.load(load!);
        source = evaluateClips({ data: dataset, planner, clips: todo, ...settings, prefetch: integerFlag('prefetch', values.prefetch, 0, 64) ?? 1 });
      }
      try {
        for await (const r of source) {
          if (isResult(r)) {
            if (done.has(r.clip)) continue;
            done.add(r.clip);
            await appendResult(out, r);
            results.push(r);
            bar.tick(`${r.clip} minADE@6.4s ${r.minADE['6.4s'].toFixed(2)} m`);
          } else {
            failures++;
            bar.tick(`${r.clip} FAILED`, true);
            io.err(`eval: ${r.clip}: ${r.error.code}: ${r.error.message}`);
          }
        }
      } finally {
        await planner?.dispose();
      }
    }
    io.out(formatSummaryTable(summarizeResults(results)));
    if (failures) io.err(`eval: ${failures} clip(s) failed (not written; rerun to retry them)`);
    return failures ? 1 : 0;
  } finally {
    await dataset.close();
  }
}

/** @internal */
export async function runWorker(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    help: { type: 'boolean', short: 'h' },
    ...PLANNER_FLAGS,
    queue: { type: 'string' },
    'queue-name': { type: 'string' },
    data: { type: 'string' },
    'lock-ms': { type: 'string' },
  });
  if (values.help) {
    io.out(WORKER_USAGE);
    return 0;
  }
  if (positionals.length) throw new AlpamayoError(`worker: unexpected argument '${positionals[0]}'`, 'INVALID_INPUT', { field: 'worker', actual: positionals });
  const queue = requiredFlag('worker', 'queue', values.queue);
  const load = loadOptionsFromFlags('worker', values);
  const lockMs = integerFlag('lock-ms', values['lock-ms'], 100, 3_600_000);
  const { startEvalWorker } = await import('../eval/evalQueue.js');
  const planner = await Planner.load(load);
  const tag = `worker ${process.pid}`;
  const worker = await startEvalWorker({
    queue,
    planner,
    ...(values['queue-name'] ? { queueName: values['queue-name'] } : {}),
    ...(values.data ? { data: values.data } : {}),
    ...(lockMs !== undefined ? { lockMs } : {}),
    onEvent: (e) => {
      if (e.type === 'start') io.err(`${tag}: start ${e.clip}`);
      else if (e.type === 'done') io.err(`${tag}: done ${e.clip} minADE@6.4s ${e.result!.minADE['6.4s'].toFixed(3)} m in ${(e.result!.timings.loadMs + e.result!.timings.planMs).toFixed(0)} ms`);
      else io.err(`${tag}: failed ${e.clip}: ${e.failure!.error.code}: ${e.failure!.error.message}`);
    },
    onError: (err) => io.err(`${tag}: queue error: ${err.message}`),
  });
  io.err(`${tag}: serving ${queue} (${planner.backend}); Ctrl-C to stop after the current job`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  io.err(`${tag}: stopping`);
  await worker.close();
  await planner.dispose();
  return 0;
}

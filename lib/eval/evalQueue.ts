// Evaluation spread over machines with BullMQ on Redis: the evaluating process adds one job per clip
// (job id = run key + clip, so adding twice is a no-op) and collects each job's result as it finishes;
// workers, each with its own planner, take jobs one at a time. A worker that dies mid-job stops renewing
// the job's lock; BullMQ's stalled-job check in the surviving workers moves the job back to the wait list
// and another worker evaluates it again with the same clip seed, so nothing is lost and the result is
// the one a single process would give. The collector writes each clip once, then removes its job.
// Stalled jobs are only moved back by a live worker, so with every worker gone nothing would ever
// finish: each worker keeps a heartbeat key (TTL = its lock time) and the collector fails with
// BACKEND_UNAVAILABLE, naming the clips not evaluated, once no heartbeat has been seen for
// workerTimeoutMs.
import { createHash, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { AlpamayoError, ALPAMAYO_ERROR_CODES } from '../AlpamayoError.js';
import { PhysicalAIAVDataset } from '../dataset/PhysicalAIAVDataset.js';
import type { Planner } from '../Planner.js';
import { evaluateClip, resolveSettings, toFailure, type ClipFailure, type ClipResult, type EvalSettings } from './evaluateClips.js';

/** Queue name used when none is given. */
export const DEFAULT_EVAL_QUEUE = 'alpamayo-eval';

/** How long {@link evaluateClipsOnQueue} waits without any live worker before it fails: 5 minutes. */
export const DEFAULT_WORKER_TIMEOUT_MS = 300_000;

/** What a job carries. */
export interface EvalJobData {
  clip: string;
  /** Dataset directory as the evaluating process sees it (a worker may override it). */
  data: string;
  settings: EvalSettings;
}

/** Redis location, shared by both sides. */
export interface QueueConnectionOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  queue: string;
  /** BullMQ queue name. Default {@link DEFAULT_EVAL_QUEUE}. */
  queueName?: string;
  /** How long to wait for Redis at start, milliseconds. Default 10000. */
  connectTimeoutMs?: number;
}

/** Options of {@link evaluateClipsOnQueue}. */
export interface QueuedEvaluationOptions extends QueueConnectionOptions, EvalSettings {
  /** Dataset directory (sent to workers in each job). */
  data: string;
  /** Clips to evaluate. */
  clips: readonly string[];
  /** Called once every job is in the queue. */
  onEnqueued?: (count: number) => void;
  /**
   * Fail with `BACKEND_UNAVAILABLE` (field `workers`) when no worker has been alive for this long,
   * milliseconds, while clips are still to come. A worker is alive while its heartbeat key exists: it
   * renews it every third of its lock time and a killed worker's key expires one lock time later, so a
   * run whose workers all died fails within about lockMs + workerTimeoutMs. Default
   * {@link DEFAULT_WORKER_TIMEOUT_MS}; the time also covers starting the workers after `eval`.
   */
  workerTimeoutMs?: number;
}

function connection(url: string): { url: string; maxRetriesPerRequest: null } {
  if (!/^rediss?:\/\//.test(url)) throw new AlpamayoError(`--queue: expected a redis:// URL, got '${url}'`, 'INVALID_INPUT', { field: 'queue', expected: 'redis://host:port', actual: url });
  // Workers block on Redis; ioredis must not give up on those commands.
  return { url, maxRetriesPerRequest: null };
}

/** Waits for Redis, or fails with BACKEND_UNAVAILABLE after `ms` (ioredis itself would retry forever). */
async function ready(url: string, ms: number, ...clients: { waitUntilReady(): Promise<unknown> }[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AlpamayoError(`queue: cannot reach Redis at ${url} within ${ms / 1000} s`, 'BACKEND_UNAVAILABLE', { field: 'queue', actual: url })), ms);
  });
  try {
    await Promise.race([Promise.all(clients.map((c) => c.waitUntilReady())), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Prefix of the worker heartbeat keys of queue `name` (BullMQ's default key prefix, then our own). */
function heartbeatPrefix(name: string): string {
  return `bull:${name}:alpamayo-worker:`;
}

type RedisClient = import('ioredis').Redis;

async function redisClient(conn: { url: string; maxRetriesPerRequest: null }): Promise<RedisClient> {
  const { Redis } = await import('ioredis');
  const c = new Redis(conn.url, { maxRetriesPerRequest: conn.maxRetriesPerRequest, lazyConnect: false });
  c.on('error', () => {});
  return c;
}

/** Number of live worker heartbeats of queue `name`. */
async function countLiveWorkers(redis: RedisClient, name: string): Promise<number> {
  const pattern = heartbeatPrefix(name).replace(/[*?[\]\\]/g, '\\$&') + '*';
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

/**
 * Resolves `dead` once no worker heartbeat (and no result, reported through `alive()`) has been seen
 * for `timeoutMs`. A poll that hangs (Redis gone: ioredis queues commands) counts as no worker.
 */
function watchWorkers(redis: RedisClient, name: string, timeoutMs: number): { dead: Promise<{ workersGone: true; sinceMs: number }>; alive(): void; stop(): void } {
  let last = Date.now();
  let polling = false;
  let resolveDead!: (v: { workersGone: true; sinceMs: number }) => void;
  const dead = new Promise<{ workersGone: true; sinceMs: number }>((r) => (resolveDead = r));
  const timer = setInterval(
    () => {
      const since = Date.now() - last;
      if (since > timeoutMs) {
        clearInterval(timer);
        resolveDead({ workersGone: true, sinceMs: since });
        return;
      }
      if (polling) return;
      polling = true;
      countLiveWorkers(redis, name).then(
        (n) => {
          polling = false;
          if (n > 0) last = Date.now();
        },
        () => (polling = false),
      );
    },
    Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4))),
  );
  return { dead, alive: () => (last = Date.now()), stop: () => clearInterval(timer) };
}

function runKey(data: string, settings: EvalSettings): string {
  return createHash('sha256').update(JSON.stringify({ data, settings: resolveSettings(settings) })).digest('hex').slice(0, 16);
}

function failureFromReason(clip: string, t0Us: number, reason: string): ClipFailure {
  const m = /^([A-Z_]+): ([\s\S]*)$/.exec(reason);
  const code = m && (ALPAMAYO_ERROR_CODES as readonly string[]).includes(m[1]!) ? m[1]! : 'INTERNAL';
  return { clip, t0Us, error: { code, message: m ? m[2]! : reason } };
}

/**
 * Enqueues one job per clip and yields each result (or failure) as workers finish them, in completion
 * order. A job's record is removed from Redis once the consumer has taken its result (after the yield
 * returns), so a clip is delivered once; if this process stops first, running it again collects the
 * results the workers stored meanwhile.
 */
export async function* evaluateClipsOnQueue(opts: QueuedEvaluationOptions): AsyncGenerator<ClipResult | ClipFailure, void, undefined> {
  const settings = resolveSettings(opts);
  const data = resolve(opts.data);
  const workerTimeoutMs = opts.workerTimeoutMs ?? DEFAULT_WORKER_TIMEOUT_MS;
  if (!(Number.isFinite(workerTimeoutMs) && workerTimeoutMs >= 100 && workerTimeoutMs <= 86_400_000))
    throw new AlpamayoError(`workerTimeoutMs: expected a number of milliseconds in [100, 86400000], got ${workerTimeoutMs}`, 'INVALID_INPUT', { field: 'workerTimeoutMs', expected: '[100, 86400000] ms', actual: workerTimeoutMs });
  const name = opts.queueName ?? DEFAULT_EVAL_QUEUE;
  const conn = connection(opts.queue);
  const { Queue, QueueEvents } = await import('bullmq');
  const queue = new Queue<EvalJobData, ClipResult>(name, { connection: conn });
  const events = new QueueEvents(name, { connection: conn });
  const redis = await redisClient(conn);
  let watchdog: ReturnType<typeof watchWorkers> | undefined;
  // Connection errors are retried by ioredis; reported through ready()'s timeout, not as crashes.
  queue.on('error', () => {});
  events.on('error', () => {});
  try {
    await ready(opts.queue, opts.connectTimeoutMs ?? 10_000, queue, events, { waitUntilReady: () => redis.ping() });
    const key = runKey(data, settings);
    // A failure left behind by a collector that stopped before removing it would be returned again
    // instead of retried: clear those first. (Completed ones are kept: they are results to collect.)
    await Promise.all(
      opts.clips.map(async (clip) => {
        const old = await queue.getJob(`${key}.${clip}`);
        if (old && (await old.isFailed())) await old.remove();
      }),
    );
    const jobs = await queue.addBulk(
      opts.clips.map((clip) => ({
        name: 'clip',
        data: { clip, data, settings },
        // A failure is a property of the clip (bad data, bad options): not retried. Stalls are retried.
        opts: { jobId: `${key}.${clip}`, attempts: 1, removeOnComplete: false, removeOnFail: false },
      })),
    );
    opts.onEnqueued?.(jobs.length);
    type Settled = { index: number; clip: string; result?: ClipResult; failure?: ClipFailure };
    const pending = new Map<number, Promise<Settled>>();
    jobs.forEach((job, index) => {
      const clip = opts.clips[index]!;
      pending.set(
        index,
        job.waitUntilFinished(events).then(
          (result: ClipResult) => ({ index, clip, result }),
          (err: unknown) => ({ index, clip, failure: failureFromReason(clip, settings.t0Us, (err as Error)?.message ?? String(err)) }),
        ),
      );
    });
    watchdog = watchWorkers(redis, name, workerTimeoutMs);
    while (pending.size) {
      const s = await Promise.race([...pending.values(), watchdog.dead]);
      if ('workersGone' in s) {
        const left = [...pending.keys()].sort((a, b) => a - b).map((i) => opts.clips[i]!);
        const shown = left.length > 20 ? `${left.slice(0, 20).join(', ')}, ... (${left.length - 20} more)` : left.join(', ');
        throw new AlpamayoError(
          `queue: no live worker on '${name}' for ${(s.sinceMs / 1000).toFixed(1)} s (--worker-timeout ${workerTimeoutMs / 1000} s); ` +
            `${left.length} clip(s) not evaluated: ${shown}. Their jobs stay queued: start workers and rerun eval to collect them`,
          'BACKEND_UNAVAILABLE',
          { field: 'workers', expected: `a live worker within ${workerTimeoutMs} ms`, actual: { liveWorkers: 0, sinceMs: s.sinceMs, notEvaluated: left } },
        );
      }
      watchdog.alive();
      pending.delete(s.index);
      yield s.result ?? s.failure!;
      // The consumer has the result: the job may go.
      await jobs[s.index]!.remove().catch(() => {});
    }
  } finally {
    watchdog?.stop();
    redis.disconnect();
    await Promise.allSettled([events.close(), queue.close()]);
  }
}

/** Options of {@link startEvalWorker}. */
export interface EvalWorkerOptions extends QueueConnectionOptions {
  /** The planner this worker evaluates with (one worker per GPU). */
  planner: Planner;
  /** Dataset directory to use instead of the one in each job (a different mount on this machine). */
  data?: string;
  /**
   * Job lock, milliseconds: a job whose worker stopped renewing it for this long is given to another
   * worker. Default 30000.
   */
  lockMs?: number;
  /** Called when a job starts, finishes or fails here. */
  onEvent?: (e: { type: 'start' | 'done' | 'failed'; clip: string; jobId: string; result?: ClipResult; failure?: ClipFailure }) => void;
  /** Queue errors after start (lost connection, lock renewal failures). Default: written to stderr. */
  onError?: (err: Error) => void;
}

/** A running worker. */
export interface EvalWorker {
  /** Finishes the job in progress, then stops taking jobs and closes the datasets it opened. */
  close(): Promise<void>;
}

/** Starts taking evaluation jobs from the queue, one at a time. */
export async function startEvalWorker(opts: EvalWorkerOptions): Promise<EvalWorker> {
  const conn = connection(opts.queue);
  const lockMs = opts.lockMs ?? 30_000;
  if (!(Number.isInteger(lockMs) && lockMs >= 100)) throw new AlpamayoError(`lockMs: expected an integer >= 100, got ${lockMs}`, 'INVALID_INPUT', { field: 'lockMs', actual: lockMs });
  const { Worker, UnrecoverableError } = await import('bullmq');
  const datasets = new Map<string, Promise<PhysicalAIAVDataset>>();
  const dataset = (dir: string): Promise<PhysicalAIAVDataset> => {
    let d = datasets.get(dir);
    if (!d) {
      d = PhysicalAIAVDataset.open(dir);
      d.catch(() => datasets.delete(dir));
      datasets.set(dir, d);
    }
    return d;
  };
  const worker = new Worker<EvalJobData, ClipResult>(
    opts.queueName ?? DEFAULT_EVAL_QUEUE,
    async (job) => {
      const { clip, settings } = job.data;
      const jobId = String(job.id);
      opts.onEvent?.({ type: 'start', clip, jobId });
      try {
        const result = await evaluateClip(await dataset(opts.data ?? job.data.data), opts.planner, clip, settings);
        opts.onEvent?.({ type: 'done', clip, jobId, result });
        return result;
      } catch (err) {
        const failure = toFailure(clip, settings.t0Us ?? 0, err);
        opts.onEvent?.({ type: 'failed', clip, jobId, failure });
        throw new UnrecoverableError(`${failure.error.code}: ${failure.error.message}`);
      }
    },
    { connection: conn, concurrency: 1, lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 3 },
  );
  worker.on('error', opts.onError ?? ((err: Error) => process.stderr.write(`eval worker: ${err.message}\n`)));
  // Heartbeat for the collectors' watchdog (see the top of this file): expires one lock time after
  // the last renewal, so a killed worker stops counting as alive when its jobs become stalled.
  const redis = await redisClient(conn);
  const beatKey = heartbeatPrefix(opts.queueName ?? DEFAULT_EVAL_QUEUE) + randomUUID();
  const beat = (): Promise<unknown> => redis.set(beatKey, String(process.pid), 'PX', lockMs);
  try {
    await ready(opts.queue, opts.connectTimeoutMs ?? 10_000, worker, { waitUntilReady: beat });
  } catch (err) {
    redis.disconnect();
    await worker.close(true).catch(() => {});
    throw err;
  }
  const beats = setInterval(() => void beat().catch(() => {}), Math.max(30, Math.floor(lockMs / 3)));
  beats.unref();
  return {
    async close() {
      // Alive until the job in progress is finished.
      await worker.close();
      clearInterval(beats);
      await redis.del(beatKey).catch(() => {});
      redis.disconnect();
      for (const d of await Promise.allSettled(datasets.values())) if (d.status === 'fulfilled') await d.value.close();
    },
  };
}

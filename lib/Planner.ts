import { AlpamayoError } from './AlpamayoError.js';
import type { NativeAddon, NativePlanner, NativePlanRequest, NativePlanResult, NativeVariant } from './binding.js';
import { buildPromptIds, specialTokenIds, TOKENS } from './buildPrompt.js';
import { imageTokenCount, visionSettingsFromConfig, type VisionTokenSettings } from './imageTokenCount.js';
import { loadCheckpointTokenizer, type CheckpointTokenizer } from './loadCheckpointTokenizer.js';
import { mapPlanResult } from './mapPlanResult.js';
import { loadNative } from './native.js';
import { defaultPrecision, resolveBackend } from './resolveBackend.js';
import { decodeReasoning, TokenStreamDecoder } from './TokenStreamDecoder.js';
import type { EgoPose, Frames, LoadOptions, PlanOptions, PlanResult } from './types.js';
import { FRAMES_PER_CAMERA, MODEL_CAMERA_ORDER } from './types.js';
import { validateEgoHistory, packEgoHistory } from './validateEgoHistory.js';
import { packFrames, validateFrames } from './validateFrames.js';
import { validateLoadOptions } from './validateLoadOptions.js';
import { validatePlanOptions, type ResolvedPlanOptions } from './validatePlanOptions.js';
import { invalidInput } from './validateCommon.js';

interface QueuedJob {
  start(): void;
  reject(err: unknown): void;
}

const disposedError = (): AlpamayoError => new AlpamayoError('planner is disposed', 'DISPOSED');
const abortedError = (signal: AbortSignal): AlpamayoError =>
  new AlpamayoError('plan aborted', 'ABORTED', { cause: signal.reason });

function asAlpamayoError(err: unknown): unknown {
  if (err instanceof AlpamayoError) return err;
  if (err instanceof Error) return new AlpamayoError(`native: ${err.message}`, 'INTERNAL', { cause: err });
  return new AlpamayoError(`native: ${String(err)}`, 'INTERNAL', { cause: err });
}

/**
 * A loaded Alpamayo model on one backend. Plans run one at a time per planner in FIFO order, off the
 * JS thread; create several planners to use several devices.
 *
 * ```ts
 * await using planner = await Planner.load({ checkpoint: '/models/Alpamayo-R1-10B' });
 * const r = await planner.plan(frames, egoHistory, { samples: 6 });
 * ```
 */
export class Planner {
  /** Backend the planner runs on (after resolving `'auto'`). */
  readonly backend: NativeVariant;
  /** Precision the native side reports. */
  readonly precision: string;
  /** Parsed model config the native side uses. */
  readonly modelConfig: unknown;

  readonly #addon: NativeAddon;
  readonly #native: NativePlanner;
  readonly #tok: CheckpointTokenizer;
  readonly #modelConfigJson: string;
  readonly #vision: VisionTokenSettings;
  readonly #maxQueue: number;
  readonly #vocabSize: number;
  readonly #stopIds: number[];
  readonly #futureStartId: number;
  readonly #eosIds: number[];
  readonly #queue: QueuedJob[] = [];
  #active: Promise<void> | undefined;
  #disposing: Promise<void> | undefined;

  private constructor(init: {
    addon: NativeAddon;
    native: NativePlanner;
    tok: CheckpointTokenizer;
    backend: NativeVariant;
    precision: string;
    modelConfigJson: string;
    maxQueue: number;
  }) {
    this.#addon = init.addon;
    this.#native = init.native;
    this.#tok = init.tok;
    this.backend = init.backend;
    this.precision = init.precision;
    this.#modelConfigJson = init.modelConfigJson;
    try {
      this.modelConfig = JSON.parse(init.modelConfigJson) as unknown;
    } catch (err) {
      throw new AlpamayoError(`native load(): modelConfig is not JSON (${(err as Error).message})`, 'INTERNAL', { cause: err });
    }
    this.#vision = visionSettingsFromConfig(this.modelConfig);
    this.#maxQueue = init.maxQueue;
    const special = specialTokenIds(init.tok);
    this.#futureStartId = special.futureStart;
    this.#eosIds = ['<|im_end|>', '<|endoftext|>'].flatMap((c) => {
      const id = init.tok.addedTokens.get(c);
      return id === undefined ? [] : [id];
    });
    this.#stopIds = [special.cotEnd, special.futureStart];
    let maxId = 0;
    for (const id of init.tok.tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.#vocabSize = maxId + 1;
  }

  /**
   * Loads a checkpoint (and engines for TensorRT) on the chosen backend. Validates options before
   * touching the native side, reads the checkpoint's tokenizer and chat template, then loads weights off
   * the JS thread.
   * @throws AlpamayoError `INVALID_INPUT` (options), `INVALID_CHECKPOINT`, `INVALID_ENGINE`, `BACKEND_UNAVAILABLE`.
   */
  static async load(options: LoadOptions): Promise<Planner> {
    const opts = validateLoadOptions(options);
    const addon = loadNative();
    const backendOpts: { engines?: string; device: number } = { device: opts.device };
    if (opts.engines !== undefined) backendOpts.engines = opts.engines;
    const backend = resolveBackend(opts.backend, addon.backends(), backendOpts);
    const tok = await loadCheckpointTokenizer(opts.checkpoint);
    specialTokenIds(tok); // fail with INVALID_CHECKPOINT before loading gigabytes of weights
    const nativeOpts: ConstructorParameters<NativeAddon['Planner']>[0] = {
      checkpoint: opts.checkpoint,
      backend,
      device: opts.device,
      precision: opts.precision ?? defaultPrecision(backend),
      threads: opts.threads,
      tokenIds: Object.fromEntries(tok.addedTokens),
    };
    if (opts.engines !== undefined) nativeOpts.engines = opts.engines;
    let native: NativePlanner;
    let info: Awaited<ReturnType<NativePlanner['load']>>;
    try {
      native = new addon.Planner(nativeOpts);
      info = await native.load();
    } catch (err) {
      throw asAlpamayoError(err);
    }
    return new Planner({
      addon,
      native,
      tok,
      backend,
      precision: info.precision,
      modelConfigJson: info.modelConfig,
      maxQueue: opts.maxQueue,
    });
  }

  /** Plans queued plus the one running. */
  get pending(): number {
    return this.#queue.length + (this.#active ? 1 : 0);
  }

  /** Whether {@link dispose} has been called. */
  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  /**
   * Plans a 6.4 s trajectory (64 poses at 10 Hz in the t0 ego frame) with chain-of-causation reasoning.
   * Inputs are validated synchronously before anything is queued. Frame buffers are read while the plan
   * runs: do not mutate or transfer them until the promise settles.
   * @param frames Four frames per camera, oldest -> newest.
   * @param egoHistory 16 poses oldest -> newest at 10 Hz; the last one is t0.
   * @throws AlpamayoError `INVALID_INPUT`, `BUSY` (queue full), `ABORTED`, `DISPOSED`, or a native error.
   */
  async plan(frames: Frames, egoHistory: readonly EgoPose[], options?: PlanOptions): Promise<PlanResult> {
    if (this.#disposing) throw disposedError();
    const opts = validatePlanOptions(options);
    const ordered = validateFrames(frames);
    const poses = validateEgoHistory(egoHistory);
    if (opts.signal?.aborted) throw abortedError(opts.signal);
    const history = packEgoHistory(poses);
    const historyIds = this.#addon.historyTokenIds(history, this.#modelConfigJson);
    const promptOpts: Parameters<typeof buildPromptIds>[1] = {
      // As the official processor: each frame is sized from its own shape (smart_resize with the
      // checkpoint's min/max pixels), so cameras of different sizes get different token counts.
      imageTokenCounts: ordered.map((f, i) => {
        try {
          return imageTokenCount(f.width, f.height, this.#vision);
        } catch (err) {
          const field = `frames.${MODEL_CAMERA_ORDER[Math.floor(i / FRAMES_PER_CAMERA)]}[${i % FRAMES_PER_CAMERA}]`;
          throw invalidInput(field, 'a size the Qwen3-VL processor accepts (aspect ratio at most 200)', `${f.width}x${f.height}`, (err as Error).message);
        }
      }),
      historyIds,
    };
    if (opts.command !== undefined) promptOpts.command = opts.command;
    const packed = packFrames(ordered);
    const request: NativePlanRequest = {
      promptIds: buildPromptIds(this.#tok, promptOpts),
      ...packed,
      egoHistory: history,
      samples: opts.samples,
      seed: opts.seed,
      diffusionSteps: opts.diffusionSteps,
      maxReasoningTokens: opts.maxReasoningTokens,
      temperature: opts.temperature,
      topP: opts.topP,
    };
    if (opts.initialNoise) request.initialNoise = opts.initialNoise;
    if (opts.reasoningTokens !== undefined) request.forcedTokens = this.#forcedTokens(opts.reasoningTokens);
    const t0Us = (poses[poses.length - 1] as { timestampUs: number }).timestampUs;
    return this.#enqueue(() => this.#run(request, opts, t0Us), opts.signal);
  }

  /**
   * Rejects queued plans with `DISPOSED`, waits for the running one, then frees native resources.
   * Idempotent: later calls return the same promise.
   */
  dispose(): Promise<void> {
    if (this.#disposing) return this.#disposing;
    for (const job of this.#queue.splice(0)) job.reject(disposedError());
    const running = this.#active;
    this.#disposing = (async () => {
      if (running) await running;
      await this.#native.dispose();
    })();
    return this.#disposing;
  }

  /** Same as {@link dispose}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  #forcedTokens(reasoning: string | number[]): Int32Array {
    const ids: number[] =
      typeof reasoning === 'string' ? this.#tok.tokenizer.encode(reasoning, { add_special_tokens: false }).ids : reasoning.slice();
    ids.forEach((id, i) => {
      if (id >= this.#vocabSize) throw invalidInput(`options.reasoningTokens[${i}]`, `a token id < ${this.#vocabSize}`, id);
    });
    // A reasoning that ends the turn (<|im_end|>/<|endoftext|>) never reaches <|traj_future_start|> in the
    // official rollout: the expert then reads the cache without it, so nothing is appended.
    const last = ids[ids.length - 1];
    const endsTurn = last !== undefined && this.#eosIds.includes(last);
    if (!ids.includes(this.#futureStartId) && !endsTurn) ids.push(this.#futureStartId);
    return Int32Array.from(ids);
  }

  #enqueue(task: () => Promise<PlanResult>, signal?: AbortSignal): Promise<PlanResult> {
    if (this.#active && this.#queue.length >= this.#maxQueue) {
      throw new AlpamayoError(`planner queue is full: ${this.#queue.length} waiting (maxQueue ${this.#maxQueue})`, 'BUSY', {
        field: 'maxQueue',
        expected: `< ${this.#maxQueue} waiting plans`,
        actual: this.#queue.length,
      });
    }
    return new Promise<PlanResult>((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.#queue.indexOf(job);
        if (at < 0) return; // already running: #run handles it
        this.#queue.splice(at, 1);
        job.reject(abortedError(signal as AbortSignal));
      };
      const job: QueuedJob = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          const done = task().then(resolve, reject);
          this.#active = done.then(() => {
            this.#active = undefined;
            this.#pump();
          });
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(job);
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#active || this.#disposing) return;
    this.#queue.shift()?.start();
  }

  async #run(request: NativePlanRequest, opts: ResolvedPlanOptions, t0Us: number): Promise<PlanResult> {
    const signal = opts.signal;
    if (signal?.aborted) throw abortedError(signal);
    const stream = opts.onToken ? new TokenStreamDecoder(this.#tok.tokenizer, this.#stopIds) : undefined;
    let callbackError: { error: unknown } | undefined;
    let handle: ReturnType<NativePlanner['plan']>;
    const onTokens = (sample: number, ids: Int32Array): void => {
      if (sample !== 0 || !stream || !opts.onToken || callbackError) return;
      const text = stream.push(ids);
      if (text === '') return;
      try {
        opts.onToken(text);
      } catch (error) {
        // A throwing callback ends the plan with the callback's own error.
        callbackError = { error };
        handle.abort();
      }
    };
    try {
      handle = this.#native.plan(request, onTokens);
    } catch (err) {
      throw asAlpamayoError(err);
    }
    const onAbort = (): void => handle.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let result: NativePlanResult;
    try {
      result = await handle.promise;
    } catch (err) {
      if (callbackError) throw callbackError.error;
      if (signal?.aborted) throw abortedError(signal);
      throw asAlpamayoError(err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (callbackError) throw callbackError.error;
    if (signal?.aborted) throw abortedError(signal);
    const tokens = result.tokens.map((t) => Int32Array.from(t));
    return mapPlanResult(result, {
      samples: opts.samples,
      seed: opts.seed,
      t0Us,
      returnActions: opts.returnActions,
      returnTokens: opts.returnTokens,
      reasoning: tokens.map((t) => decodeReasoning(this.#tok.tokenizer, t, this.#stopIds)),
      tokens,
    });
  }
}

import { AlpamayoError } from './AlpamayoError.js';
import type { NativeActivationStats, NativeAddon, NativePlanner, NativePlanRequest, NativePlanResult, NativeVariant } from './binding.js';
import { checkDirectory } from './checkDirectory.js';
import { buildPromptIds, HISTORY_TOKEN_COUNT, specialTokenIds, TOKENS } from './buildPrompt.js';
import { imageTokenCount, visionSettingsFromConfig, type VisionTokenSettings } from './imageTokenCount.js';
import { loadCheckpointTokenizer, type CheckpointTokenizer } from './loadCheckpointTokenizer.js';
import { mapPlanResult } from './mapPlanResult.js';
import { loadNative } from './native.js';
import { defaultPrecision, resolveBackend } from './resolveBackend.js';
import { decodeReasoning, TokenStreamDecoder } from './TokenStreamDecoder.js';
import type { EgoPose, Frames, LoadOptions, PlanOptions, PlanResult } from './types.js';
import { FRAMES_PER_CAMERA, MODEL_CAMERA_ORDER } from './types.js';
import { validateEgoHistory, packEgoHistory } from './validateEgoHistory.js';
import { validateClocks } from './validateClocks.js';
import { packFrames, transferFrameData, validateFrames } from './validateFrames.js';
import { validateLoadOptions } from './validateLoadOptions.js';
import { validatePlanOptions, type ResolvedPlanOptions } from './validatePlanOptions.js';
import { invalidInput } from './validateCommon.js';

interface QueuedJob {
  start(): void;
  reject(err: unknown): void;
}

const disposedError = (): AlpamayoError => new AlpamayoError('planner is disposed', 'DISPOSED');
// The native message says where the plan stopped ("plan aborted during prefill"); keep it.
const abortedError = (signal: AbortSignal, native?: unknown): AlpamayoError =>
  new AlpamayoError(native instanceof AlpamayoError && native.code === 'ABORTED' ? native.message : 'plan aborted', 'ABORTED', {
    cause: signal.reason,
  });
const callbackError = (error: unknown): AlpamayoError =>
  new AlpamayoError(
    `plan aborted: options.onToken ${error instanceof Error ? `threw ${error.name}: ${error.message}` : `failed: ${String(error)}`}`,
    'ABORTED',
    { field: 'options.onToken', cause: error },
  );
/** Most reasoning tokens a plan may generate or force (the upper bound of `maxReasoningTokens`). */
const MAX_REASONING_TOKENS = 4096;

/** Load options that are not part of the public API. @internal */
export interface PlannerInternalOptions {
  /** Record every linear's input statistics (FP8 calibration; cpu backend, fp32 only). */
  calibrate?: boolean;
}

// Friend access to a planner's native half for lib/calibrateActivations.ts (set in the class's static block).
let nativeOf: (p: Planner) => NativePlanner;

/** What the native planner of a `{ calibrate: true }` load recorded so far. @internal */
export function activationStatsOf(p: Planner): Promise<NativeActivationStats> {
  return nativeOf(p).activationStats();
}
/** Characters allowed per token of a text budget before it is tokenized (BPE tokens are rarely longer). */
const CHARS_PER_TOKEN_LIMIT = 16;

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

  static {
    nativeOf = (p) => p.#native;
  }

  readonly #addon: NativeAddon;
  readonly #native: NativePlanner;
  readonly #tok: CheckpointTokenizer;
  readonly #modelConfigJson: string;
  readonly #vision: VisionTokenSettings;
  readonly #maxQueue: number;
  readonly #vocabSize: number;
  readonly #stopIds: number[];
  readonly #futureStartId: number;
  readonly #maxCommandTokens: number;
  /** Prompt length without a command and with one `<|image_pad|>` per image. */
  readonly #templatePromptTokens: number;
  /** Aborts the plan running natively (set while one runs). */
  #abortRunning: (() => void) | undefined;
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
    maxCommandTokens: number;
    templatePromptTokens: number;
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
    this.#maxCommandTokens = init.maxCommandTokens;
    this.#templatePromptTokens = init.templatePromptTokens;
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
   * @throws AlpamayoError `INVALID_INPUT` (options), `INVALID_CHECKPOINT` (files, config against the
   * tensors, chat template), `INVALID_ENGINE`, `BACKEND_UNAVAILABLE`, `RESOURCE_EXHAUSTED` (the model
   * would not fit in the memory available).
   */
  static async load(options: LoadOptions, /** @internal */ internal: PlannerInternalOptions = {}): Promise<Planner> {
    const opts = validateLoadOptions(options);
    await checkDirectory(opts.checkpoint, 'options.checkpoint', 'checkpoint directory', 'INVALID_CHECKPOINT');
    // Checked whichever backend runs: an engines path that was given and is wrong is a mistake even on cpu.
    if (opts.engines !== undefined) await checkDirectory(opts.engines, 'options.engines', 'engines directory', 'INVALID_ENGINE');
    const addon = loadNative();
    const backendOpts: { engines?: string; device: number } = { device: opts.device };
    if (opts.engines !== undefined) backendOpts.engines = opts.engines;
    const backend = resolveBackend(opts.backend, addon.backends(), backendOpts);
    const tok = await loadCheckpointTokenizer(opts.checkpoint);
    specialTokenIds(tok); // fail with INVALID_CHECKPOINT before loading gigabytes of weights
    // Render and tokenize the prompt once now: a broken chat template fails the load, not the first plan.
    let templatePromptTokens: number;
    try {
      templatePromptTokens = buildPromptIds(tok, {
        imageTokenCounts: new Array<number>(16).fill(1),
        historyIds: new Int32Array(HISTORY_TOKEN_COUNT),
      }).length;
    } catch (err) {
      if (!(err instanceof AlpamayoError) || err.code !== 'INVALID_CHECKPOINT') throw err;
      throw new AlpamayoError(`${tok.chatTemplateFile}: ${err.message}`, 'INVALID_CHECKPOINT', {
        field: tok.chatTemplateFile,
        expected: err.expected,
        actual: err.actual,
        cause: err,
      });
    }
    const nativeOpts: ConstructorParameters<NativeAddon['Planner']>[0] = {
      checkpoint: opts.checkpoint,
      backend,
      device: opts.device,
      precision: opts.precision ?? defaultPrecision(backend),
      threads: opts.threads,
      tokenIds: Object.fromEntries(tok.addedTokens),
    };
    if (opts.engines !== undefined) nativeOpts.engines = opts.engines;
    if (internal.calibrate) nativeOpts.calibrate = true;
    let native: NativePlanner;
    let info: Awaited<ReturnType<NativePlanner['load']>>;
    try {
      native = new addon.Planner(nativeOpts);
      info = await native.load();
    } catch (err) {
      throw asAlpamayoError(err);
    }
    // The command's bound is the option, capped by what the model's context leaves after the fixed
    // prompt and the largest reasoning budget.
    const perImage = info.imageTokensPerImage ?? imageTokenCount(1920, 1080, visionSettingsFromConfig(JSON.parse(info.modelConfig) as unknown));
    const basePromptTokens = templatePromptTokens - 16 + 16 * perImage;
    const contextLeft = (info.maxPositions ?? Number.MAX_SAFE_INTEGER) - basePromptTokens - MAX_REASONING_TOKENS - 1;
    if (opts.maxCommandTokens > contextLeft) {
      await native.dispose();
      throw invalidInput(
        'options.maxCommandTokens',
        `at most ${Math.max(0, contextLeft)} (the model's ${info.maxPositions} positions minus the ${basePromptTokens}-token prompt and ${MAX_REASONING_TOKENS} reasoning tokens)`,
        opts.maxCommandTokens,
      );
    }
    return new Planner({
      addon,
      native,
      tok,
      backend,
      precision: info.precision,
      modelConfigJson: info.modelConfig,
      maxQueue: opts.maxQueue,
      maxCommandTokens: opts.maxCommandTokens,
      templatePromptTokens,
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
   * Inputs are validated synchronously before anything is queued. The frame bytes are copied (or, with
   * `frameBuffers: 'transfer'`, taken over) before this returns: the caller's buffers are then free.
   * @param frames Four frames per camera, oldest -> newest.
   * @param egoHistory 16 poses oldest -> newest at 10 Hz; the last one is t0.
   * @throws AlpamayoError `INVALID_INPUT`, `BUSY` (queue full), `ABORTED`, `DISPOSED`, or a native error.
   */
  async plan(frames: Frames, egoHistory: readonly EgoPose[], options?: PlanOptions): Promise<PlanResult> {
    if (this.#disposing) throw disposedError();
    const opts = validatePlanOptions(options);
    const ordered = validateFrames(frames);
    const poses = validateEgoHistory(egoHistory);
    if (opts.checkClocks) validateClocks(ordered, poses);
    if (opts.command !== undefined && opts.command.length > this.#maxCommandTokens * CHARS_PER_TOKEN_LIMIT) {
      // Checked before tokenizing: a megabyte of text would block the event loop in the tokenizer.
      throw invalidInput(
        'options.command',
        `at most ${this.#maxCommandTokens * CHARS_PER_TOKEN_LIMIT} characters (maxCommandTokens ${this.#maxCommandTokens} x ${CHARS_PER_TOKEN_LIMIT})`,
        `${opts.command.length} characters`,
      );
    }
    const forced = opts.reasoningTokens !== undefined ? this.#forcedTokens(opts.reasoningTokens, opts.maxReasoningTokens) : undefined;
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
    const promptIds = buildPromptIds(this.#tok, promptOpts);
    const imageTokens = promptOpts.imageTokenCounts.reduce((a, b) => a + b, 0);
    const commandTokens = promptIds.length - (this.#templatePromptTokens - promptOpts.imageTokenCounts.length + imageTokens);
    if (commandTokens > this.#maxCommandTokens) {
      throw invalidInput('options.command', `a command of at most maxCommandTokens = ${this.#maxCommandTokens} tokens`, `${commandTokens} tokens`);
    }
    // Last, once nothing else can reject: transferring detaches the caller's buffers.
    const packed = opts.frameBuffers === 'transfer' ? packFrames(ordered, transferFrameData(ordered)) : packFrames(ordered);
    const request: NativePlanRequest = {
      promptIds,
      ...packed,
      egoHistory: history,
      samples: opts.samples,
      seed: opts.seed,
      diffusionSteps: opts.diffusionSteps,
      maxReasoningTokens: opts.maxReasoningTokens,
      temperature: opts.temperature,
      topP: opts.topP,
    };
    if (opts.frameBuffers === 'transfer') request.framesOwned = true;
    if (opts.sampleBatch !== undefined) request.sampleBatch = opts.sampleBatch;
    if (opts.initialNoise) request.initialNoise = opts.initialNoise;
    if (forced) request.forcedTokens = forced;
    const t0Us = (poses[poses.length - 1] as { timestampUs: number }).timestampUs;
    return this.#enqueue(() => this.#run(request, opts, t0Us), opts.signal);
  }

  /**
   * Rejects queued plans with `DISPOSED`, aborts the running one (it rejects with `DISPOSED` within
   * milliseconds, whatever its stage), then frees native resources. Idempotent: later calls return the
   * same promise.
   */
  dispose(): Promise<void> {
    if (this.#disposing) return this.#disposing;
    for (const job of this.#queue.splice(0)) job.reject(disposedError());
    this.#abortRunning?.();
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

  #forcedTokens(reasoning: string | number[], max: number): Int32Array {
    const limit = `at most maxReasoningTokens = ${max} tokens, <|traj_future_start|> included (raise maxReasoningTokens, up to ${MAX_REASONING_TOKENS})`;
    if (typeof reasoning === 'string' && reasoning.length > max * CHARS_PER_TOKEN_LIMIT) {
      throw invalidInput('options.reasoningTokens', `${limit}; a string of at most ${max * CHARS_PER_TOKEN_LIMIT} characters`, `${reasoning.length} characters`);
    }
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
    if (ids.length > max) throw invalidInput('options.reasoningTokens', limit, `${ids.length} tokens`);
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
    let failed: { error: unknown } | undefined;
    let settled = false;
    let handle: ReturnType<NativePlanner['plan']>;
    // A throwing onToken, or a returned promise that rejects while the plan runs, aborts the plan; the
    // plan then rejects with ABORTED carrying the callback's error as `cause`.
    const onCallbackError = (error: unknown): void => {
      if (failed || settled) return;
      failed = { error };
      handle.abort();
    };
    const onTokens = (sample: number, ids: Int32Array): void => {
      if (sample !== 0 || !stream || !opts.onToken || failed) return;
      const text = stream.push(ids);
      if (text === '') return;
      try {
        const returned = opts.onToken(text);
        if (returned !== null && typeof returned === 'object' && typeof (returned as PromiseLike<unknown>).then === 'function') {
          (returned as PromiseLike<unknown>).then(undefined, onCallbackError);
        }
      } catch (error) {
        onCallbackError(error);
      }
    };
    try {
      handle = this.#native.plan(request, onTokens);
    } catch (err) {
      throw asAlpamayoError(err);
    }
    const onAbort = (): void => handle.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#abortRunning = onAbort;
    let result: NativePlanResult;
    try {
      result = await handle.promise;
    } catch (err) {
      if (failed) throw callbackError(failed.error);
      if (signal?.aborted) throw abortedError(signal, err);
      if (this.#disposing) throw disposedError();
      throw asAlpamayoError(err);
    } finally {
      settled = true;
      this.#abortRunning = undefined;
      signal?.removeEventListener('abort', onAbort);
    }
    if (failed) throw callbackError(failed.error);
    if (signal?.aborted) throw abortedError(signal);
    if (this.#disposing) throw disposedError();
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

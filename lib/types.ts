// Public data shapes of the planner API.

/** Camera names accepted in {@link Frames}. */
export type CameraName = 'front_wide' | 'front_tele' | 'cross_left' | 'cross_right';

/**
 * Camera order the model was trained with (official sorted camera index order); images are passed
 * camera-major in this order, oldest frame first.
 */
export const MODEL_CAMERA_ORDER: readonly CameraName[] = ['cross_left', 'front_wide', 'cross_right', 'front_tele'];

/** Frames per camera the model expects (t0-0.3 s ... t0 at 10 Hz). */
export const FRAMES_PER_CAMERA = 4;
/** Ego poses the model expects (t0-1.5 s ... t0 at 10 Hz). */
export const EGO_HISTORY_LENGTH = 16;
/** Waypoints in every output trajectory (6.4 s at 10 Hz). */
export const WAYPOINT_COUNT = 64;

/** One camera image. */
export interface Frame {
  /** RGB, 8 bits per channel, HWC row-major: `data.length === width * height * 3`. Do not mutate until the plan settles. */
  data: Uint8Array;
  /** Width in pixels, integer >= 64. */
  width: number;
  /** Height in pixels, integer >= 64. */
  height: number;
  /** Capture time in microseconds (any epoch, same clock as the ego history). */
  timestampUs: number;
}

/** Four frames (oldest -> newest, strictly increasing timestamps) from each of the four cameras. */
export type Frames = Record<CameraName, readonly Frame[]>;

/** A 3x3 rotation matrix, row-major. */
export type Rotation9 = ArrayLike<number>;

/** One ego pose; positions in metres, any fixed world frame (converted to the t0 ego frame internally). */
export interface EgoPose {
  /** Time in microseconds, same clock as the frames. */
  timestampUs: number;
  /** `[x, y, z]` in metres. */
  position: ArrayLike<number>;
  /** Body-to-world rotation, 9 numbers row-major; must be orthonormal with det +1 (tolerance 1e-3). */
  rotation: Rotation9;
}

/** Options of {@link Planner.load}. */
export interface LoadOptions {
  /** Checkpoint directory: config.json, *.safetensors, tokenizer.json (+ tokenizer_config.json), chat template. */
  checkpoint: string;
  /** Directory of TensorRT engines + manifest.json (required for the `tensorrt` backend). */
  engines?: string;
  /**
   * Compute backend. Default `'auto'`: `tensorrt` when compiled in, `engines` is given and a GPU exists;
   * else `cuda` when a CUDA device exists; else `cpu`. An explicit backend that cannot run is an error.
   */
  backend?: 'auto' | 'cpu' | 'cuda' | 'tensorrt';
  /** CUDA device ordinal. Default 0. */
  device?: number;
  /** Weight/activation precision. Default: `fp16` for tensorrt, `bf16` for cuda, `fp32` for cpu. */
  precision?: 'fp32' | 'bf16' | 'fp16' | 'fp8';
  /** Most plans allowed to wait behind the running one; more reject with `BUSY`. Default 64. */
  maxQueue?: number;
  /** CPU threads for the cpu backend and preprocessing; 0 = all available cores. Default 0. */
  threads?: number;
}

/** Options of {@link Planner.plan}. */
export interface PlanOptions {
  /**
   * Free-text driving command appended to the user turn after the official instruction. The released
   * Alpamayo 1 was not trained with navigation input, so its effect is not guaranteed. Default: none.
   */
  command?: string;
  /** Independent reasoning + trajectory samples, integer 1..16. Default 1. */
  samples?: number;
  /** uint32 seed for token sampling and diffusion noise. Default: random (returned as `result.seed`). */
  seed?: number;
  /** Flow-matching Euler steps, integer 1..100. Default 10. */
  diffusionSteps?: number;
  /** Most generated reasoning tokens, integer 1..4096. Default 256. */
  maxReasoningTokens?: number;
  /** Sampling temperature, finite >= 0; 0 = greedy. Default 0.6. */
  temperature?: number;
  /** Nucleus sampling mass in (0, 1]. Default 0.98. */
  topP?: number;
  /** Diffusion start noise, `samples * 64 * 2` finite values (accel, curvature interleaved). Default: drawn from `seed`. */
  initialNoise?: Float32Array;
  /**
   * Skip generation and force this reasoning (teacher forcing): text is tokenized (literal special tokens
   * recognised), ids are used as given; `<|traj_future_start|>` is appended when missing, unless the ids end
   * the turn (`<|im_end|>`/`<|endoftext|>`, the official rollout's other stop). Default: generate.
   */
  reasoningTokens?: string | readonly number[] | Int32Array;
  /** Include `actions` (accel, curvature, normalized) in the result. Default false. */
  returnActions?: boolean;
  /** Include generated token ids in the result. Default false. */
  returnTokens?: boolean;
  /** Aborts a queued plan at once and a running one at the next native checkpoint; rejects with `ABORTED`. */
  signal?: AbortSignal;
  /** Called in order with each new piece of reasoning text of sample 0 while it is generated. */
  onToken?: (text: string) => void;
}

/** 64 poses in the t0 ego frame (x forward, y left, z up), 10 Hz. */
export interface Waypoints {
  /** 64 x [x, y, z] metres. */
  positions: Float64Array;
  /** 64 x 3x3 rotation, row-major. */
  rotations: Float64Array;
  /** 64 times in seconds after t0 (0.1 ... 6.4). */
  timestamps: Float64Array;
}

/** Controls the trajectory was integrated from (unicycle model). */
export interface Actions {
  /** 64 accelerations, m/s^2. */
  accel: Float64Array;
  /** 64 curvatures, 1/m. */
  curvature: Float64Array;
  /** 64 x [accel, curvature] as the action expert produced them (normalized units). */
  normalized: Float32Array;
}

/** One sampled reasoning + trajectory. */
export interface PlanSample {
  /** Chain-of-causation text (between `<|cot_start|>` and `<|cot_end|>`, special tokens removed). */
  reasoning: string;
  waypoints: Waypoints;
  /** Present when `returnActions` was set. */
  actions?: Actions;
  /** Generated (or forced) token ids, present when `returnTokens` was set. */
  tokens?: Int32Array;
}

/** Wall-clock time of each stage, milliseconds. */
export interface PlanTimings {
  preprocessMs: number;
  visionMs: number;
  prefillMs: number;
  reasoningMs: number;
  actionMs: number;
  totalMs: number;
}

/** Result of {@link Planner.plan}. Top-level fields are those of sample 0. */
export interface PlanResult {
  reasoning: string;
  /** Same object as `samples[0].waypoints`. */
  waypoints: Waypoints;
  /** Every sample (length = `samples`; also present when samples is 1). */
  samples: PlanSample[];
  timings: PlanTimings;
  /** Timestamp of the last ego pose (t0), microseconds; waypoint k is at `t0Us + timestamps[k] * 1e6`. */
  t0Us: number;
  /** Seed actually used. */
  seed: number;
  /** Estimated speed at t0, m/s (present when `returnActions` was set). */
  v0?: number;
  actions?: Actions;
  tokens?: Int32Array;
}

// Type-only description of the native addon (native/napi/*.cpp). lib/ talks to C++ only through
// these shapes; the loader in native.ts returns a `NativeAddon`. Keep in sync with the N-API code.
import type { AlpamayoError } from './AlpamayoError.js';
import type { PlanTimings } from './types.js';

/** Native compute variant a binary was built as. */
export type NativeVariant = 'cpu' | 'cuda' | 'tensorrt';

/** What the loaded binary can run on this machine (see `backends()`). */
export interface BackendsInfo {
  /** Which build of the addon was loaded. */
  variant: NativeVariant;
  /** The CPU reference backend is always compiled in. */
  cpu: true;
  /** CUDA backend: compiled in, number of visible devices, and why probing failed (if it did). */
  cuda: { compiled: boolean; devices: number; error?: string };
  /** TensorRT runner: compiled in, and the TensorRT version it was built against (e.g. 100900). */
  tensorrt: { compiled: boolean; version?: number };
}

/** One entry of a checkpoint preset's token layout. @internal */
export interface NativeTokenLayoutEntry {
  content: string;
  id: number;
  special: boolean;
}

/** @internal */
export interface NativeInspectResult {
  config: unknown;
  tensors: number;
  bytes: number;
  components: Record<string, { tensors: number; bytes: number }>;
}

/** The C heap as glibc accounts it (bytes). `inUse` rises only when native code holds more memory; `free`
 * and `arena` also move with fragmentation and with memory the allocator keeps for reuse. */
export interface NativeHeapStats {
  /** Allocated and not yet freed (heap chunks plus mmapped blocks). */
  inUse: number;
  /** Free chunks the allocator keeps inside its arenas. */
  free: number;
  /** Bytes obtained from the OS for the arenas (excluding mmapped blocks). */
  arena: number;
  /** Large blocks served by mmap directly. */
  mmapped: number;
}

/** @internal */
export interface NativeTrajectory {
  positions: Float64Array;
  rotations: Float64Array;
  timestamps: Float64Array;
}

/** @internal */
export interface NativePlannerOptions {
  checkpoint: string;
  engines?: string;
  backend: NativeVariant;
  device: number;
  precision: string;
  threads: number;
  tokenIds: Record<string, number>;
  /** Record every linear's input statistics (lib/calibrateActivations.ts). */
  calibrate?: boolean;
}

/** Per linear weight name: max |input|, most input rows of one call, calls. @internal */
export interface NativeActivationStats {
  amax: Record<string, number>;
  rows: Record<string, number>;
  calls: Record<string, number>;
}

/** @internal */
export interface NativeLoadResult {
  backend: string;
  precision: string;
  /** The model config the planner uses, as JSON text. */
  modelConfig: string;
  /** `<|image_pad|>` tokens per frame: every frame is resampled to one input size. */
  imageTokensPerImage?: number;
  /** The backbone's context length (prompt + reasoning positions). */
  maxPositions?: number;
}

/** @internal */
export interface NativePlanRequest {
  promptIds: Int32Array;
  /** 16 RGB HWC images, camera-major (cross_left, front_wide, cross_right, front_tele), oldest first. */
  frames: Uint8Array[];
  widths: Int32Array;
  heights: Int32Array;
  /** 16 x 13: t (s, relative to t0), x, y, z, r00..r22, in the t0 ego frame. */
  egoHistory: Float64Array;
  samples: number;
  sampleBatch?: number;
  seed: number;
  diffusionSteps: number;
  maxReasoningTokens: number;
  temperature: number;
  topP: number;
  initialNoise?: Float32Array;
  forcedTokens?: Int32Array;
  /** The frames' buffers were transferred to lib/ (only it references them): borrow instead of copying. */
  framesOwned?: boolean;
}

/** @internal Same fields as the public timings. */
export type NativeTimings = PlanTimings;

/** @internal */
export interface NativePlanResult {
  tokens: Int32Array[];
  positions: Float64Array;
  rotations: Float64Array;
  timestamps: Float64Array;
  accel: Float64Array;
  curvature: Float64Array;
  normalized: Float32Array;
  v0: number;
  timings: NativeTimings;
}

/** @internal */
export interface NativePlanHandle {
  promise: Promise<NativePlanResult>;
  abort(): void;
}

/** @internal */
export interface NativePlanner {
  load(): Promise<NativeLoadResult>;
  plan(req: NativePlanRequest, onTokens: (sample: number, ids: Int32Array) => void): NativePlanHandle;
  dispose(): Promise<void>;
  activationStats(): Promise<NativeActivationStats>;
}

/** @internal */
export interface NativeAddon {
  backends(): BackendsInfo;
  /** `alp::error_code_name` of every `alp::ErrorCode`, in enum order. */
  readonly errorCodes: readonly string[];
  setErrorClass(ctor: typeof AlpamayoError): void;
  tokenLayout(preset: string): NativeTokenLayoutEntry[];
  makeCheckpoint(dir: string, preset: 'tiny' | 'small' | 'realdims', seed: number): void;
  inspectCheckpoint(dir: string): NativeInspectResult;
  /**
   * Exports ONNX graphs (+ TensorRT engines when compiled in and `options.exportOnly` is not true) and writes
   * manifest.json; synchronous.
   */
  exportEngines(
    checkpoint: string,
    outDir: string,
    precision: string,
    profiles: readonly string[],
    referenceDir: string | undefined,
    onProgress?: (message: string) => void,
    options?: {
      /** fp8: calibrated max |input| per linear weight name (lib/calibrateActivations.ts). */
      activationAmax?: Record<string, number>;
      /** Reference cases: `all` (default) or only the planner's real shapes (`real`). */
      referenceCases?: 'all' | 'real';
      /** Frames in the real-shape prefill reference, 1..16 (default 16: 3,300 tokens). */
      referenceFrames?: number;
      /** true: export ONNX + manifest only, never build engines, even with TensorRT compiled in. */
      exportOnly?: boolean;
    },
  ): { manifest: string; built: boolean; trtexec: string[] };
  historyTokenIds(egoHistory: Float64Array, configJson: string): Int32Array;
  /** The official processor's smart_resize: `[height, width]`; throws INVALID_INPUT where it raises. */
  smartResize(height: number, width: number, factor: number, minPixels: number, maxPixels: number): [number, number];
  /** `configJson` null: the release action space. */
  estimateInitialSpeed(egoHistory: Float64Array, configJson: string | null): number;
  actionsToTrajectory(accel: Float64Array, curvature: Float64Array, v0: number, configJson: string | null): NativeTrajectory;
  trajectoryToActions(
    positions: Float64Array,
    rotations: Float64Array,
    v0: number,
    configJson: string | null,
  ): { accel: Float64Array; curvature: Float64Array; normalized: Float32Array };
  /** glibc heap accounting (all arenas); undefined where the C library is not glibc. */
  nativeHeap(): NativeHeapStats | undefined;
  Planner: new (opts: NativePlannerOptions) => NativePlanner;
}

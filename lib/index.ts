// Public entry point of alpamayo-trt.
export { AlpamayoError, ALPAMAYO_ERROR_CODES, isAlpamayoError } from './AlpamayoError.js';
export type { AlpamayoErrorCode, AlpamayoErrorDetails } from './AlpamayoError.js';
export { Planner } from './Planner.js';
export { backends, nativeBinaryPath } from './native.js';
export type { BackendsInfo, NativeVariant } from './binding.js';
export type {
  Actions,
  CameraName,
  EgoPose,
  Frame,
  Frames,
  LoadOptions,
  PlanOptions,
  PlanResult,
  PlanSample,
  PlanTimings,
  Rotation9,
  Waypoints,
} from './types.js';
export { EGO_HISTORY_LENGTH, FRAMES_PER_CAMERA, MODEL_CAMERA_ORDER, WAYPOINT_COUNT } from './types.js';
export { toNavPath, toQuaternion } from './ros.js';
export type { NavPathOptions, Quaternion, RosHeader, RosPath, RosPoseStamped, RosTime } from './ros.js';
export { actionsToTrajectory, estimateInitialSpeed, historyTokens, minADE, trajectoryToActions } from './metrics.js';
export type { MinADEOptions, MinADEResult, TrajectoryLike } from './metrics.js';
export { CHATML_VL_TEMPLATE, writeTokenizerFiles } from './tokenizerFiles.js';
export type { TokenLayoutEntry } from './tokenizerFiles.js';
export { imageTokenCount, smartResize, ALPAMAYO_VISION_SETTINGS } from './imageTokenCount.js';
export type { VisionTokenSettings } from './imageTokenCount.js';
export { PLAN_DEFAULTS } from './validatePlanOptions.js';
export { makeCheckpoint } from './makeCheckpoint.js';
export type { CheckpointPreset, MakeCheckpointOptions, MakeCheckpointResult } from './makeCheckpoint.js';
export { version } from './version.js';
export { PhysicalAIAVDataset } from './dataset/PhysicalAIAVDataset.js';
export type { DatasetFeature, DatasetOpenOptions } from './dataset/PhysicalAIAVDataset.js';
export { DATASET_CAMERA_FEATURES, DEFAULT_T0_US, EGOMOTION_FEATURE } from './dataset/types.js';
export type { ClipSample, LoadSampleOptions } from './dataset/types.js';
export { evaluateClip, evaluateClips } from './eval/evaluateClips.js';
export type { ClipFailure, ClipResult, EvalSettings, EvaluateClipsOptions } from './eval/evaluateClips.js';
export { clipMetrics, EVAL_HORIZONS } from './eval/clipMetrics.js';
export type { ClipMetrics, HorizonValues } from './eval/clipMetrics.js';
export { clipSeed } from './eval/clipSeed.js';
export { formatSummaryTable, quantile, summarizeResults } from './eval/summarizeResults.js';
export type { MetricSummary } from './eval/summarizeResults.js';
export { appendResult, readResultsFile } from './eval/resultsFile.js';
export { DEFAULT_EVAL_QUEUE, DEFAULT_WORKER_TIMEOUT_MS, evaluateClipsOnQueue, startEvalWorker } from './eval/evalQueue.js';
export type { EvalJobData, EvalWorker, EvalWorkerOptions, QueueConnectionOptions, QueuedEvaluationOptions } from './eval/evalQueue.js';

// Public shapes of the PhysicalAI-AV reader.
import type { CameraName, EgoPose, Frames, Waypoints } from '../types.js';

/** The dataset's feature names of the four cameras the model uses, by planner camera name. */
export const DATASET_CAMERA_FEATURES: Readonly<Record<CameraName, string>> = {
  cross_left: 'camera_cross_left_120fov',
  front_wide: 'camera_front_wide_120fov',
  cross_right: 'camera_cross_right_120fov',
  front_tele: 'camera_front_tele_30fov',
};

/** The egomotion feature name. */
export const EGOMOTION_FEATURE = 'egomotion';

/** Default t0 of the official loader: 5.1 s into the clip (microseconds on the clip clock). */
export const DEFAULT_T0_US = 5_100_000;

/** Options of {@link PhysicalAIAVDataset.loadSample}. */
export interface LoadSampleOptions {
  /** Sample time in microseconds on the clip clock; must exceed 1.6 s (16 history steps). Default 5,100,000. */
  t0Us?: number;
}

/** What the official `load_physical_aiavdataset` yields for one clip at t0, in this package's shapes. */
export interface ClipSample {
  clipId: string;
  /** Chunk the clip is stored in. */
  chunk: number;
  t0Us: number;
  /** 4 cameras x 4 frames (t0-0.3 s ... t0; each the frame at or before that time), RGB at full size; `timestampUs` is the frame's own timestamp. */
  frames: Frames;
  /** Video frame index of each frame in `frames`. */
  frameIndices: Record<CameraName, number[]>;
  /** 16 poses at t0-1.5 s ... t0 (10 Hz) in the t0 ego frame (the last is the identity). */
  egoHistory: EgoPose[];
  /** The 64 poses at t0+0.1 ... t0+6.4 s in the t0 ego frame: the ground truth. */
  groundTruth: Waypoints;
  /** Times of `groundTruth`, microseconds on the clip clock. */
  futureTimestampsUs: number[];
}

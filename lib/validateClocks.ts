// The model reads 16 poses at 10 Hz ending at t0 and four frames per camera at t0-0.3 ... t0 s. It
// cannot see timestamps (they only order the inputs), so misaligned clocks (100 Hz odometry, frames
// from another second, a camera 10 s behind) would otherwise be read as if they were aligned.
import { AlpamayoError } from './AlpamayoError.js';
import type { Frame } from './types.js';
import { FRAMES_PER_CAMERA, MODEL_CAMERA_ORDER } from './types.js';
import type { CheckedPose } from './validateEgoHistory.js';

/** Period between consecutive ego poses (10 Hz), microseconds. */
export const POSE_PERIOD_US = 100_000;
/** Allowed deviation of each pose-to-pose step from {@link POSE_PERIOD_US}, microseconds. */
export const POSE_PERIOD_TOLERANCE_US = 20_000;
/** Spacing of the frames the model expects (t0-0.3, t0-0.2, t0-0.1, t0 s), microseconds. */
export const FRAME_PERIOD_US = 100_000;
/** Allowed deviation of each frame's timestamp from its expected offset to t0, microseconds. */
export const FRAME_OFFSET_TOLERANCE_US = 50_000;

function clockError(field: string, expected: string, actual: number, note: string): AlpamayoError {
  return new AlpamayoError(`${field}: expected ${expected}, got ${actual} (${note}; pass checkClocks: false to skip this check)`, 'INVALID_INPUT', {
    field,
    expected,
    actual,
  });
}

/**
 * Checks the ego pose period and each frame's offset from t0 (the last pose) against the model's
 * 10 Hz layout, within the tolerances above.
 * @param ordered Frames camera-major in {@link MODEL_CAMERA_ORDER}, oldest first (from validateFrames).
 * @throws AlpamayoError `INVALID_INPUT` naming the field, the expected window and the actual timestamp.
 * @internal
 */
export function validateClocks(ordered: readonly Frame[], poses: readonly CheckedPose[]): void {
  for (let i = 1; i < poses.length; i++) {
    const step = (poses[i] as CheckedPose).timestampUs - (poses[i - 1] as CheckedPose).timestampUs;
    if (Math.abs(step - POSE_PERIOD_US) > POSE_PERIOD_TOLERANCE_US) {
      const prev = (poses[i - 1] as CheckedPose).timestampUs;
      throw clockError(
        `egoHistory[${i}].timestampUs`,
        `${prev + POSE_PERIOD_US} ± ${POSE_PERIOD_TOLERANCE_US} µs (egoHistory[${i - 1}] + 0.1 s: poses at 10 Hz)`,
        (poses[i] as CheckedPose).timestampUs,
        `a step of ${step} µs`,
      );
    }
  }
  const t0 = (poses[poses.length - 1] as CheckedPose).timestampUs;
  ordered.forEach((frame, k) => {
    const camera = MODEL_CAMERA_ORDER[Math.floor(k / FRAMES_PER_CAMERA)] as string;
    const i = k % FRAMES_PER_CAMERA;
    const offset = (i - (FRAMES_PER_CAMERA - 1)) * FRAME_PERIOD_US;
    if (Math.abs(frame.timestampUs - t0 - offset) > FRAME_OFFSET_TOLERANCE_US) {
      throw clockError(
        `frames.${camera}[${i}].timestampUs`,
        `${t0 + offset} ± ${FRAME_OFFSET_TOLERANCE_US} µs (t0${offset === 0 ? '' : ` - ${-offset / 1e6} s`}, t0 = egoHistory[${poses.length - 1}].timestampUs = ${t0})`,
        frame.timestampUs,
        `${(frame.timestampUs - t0) / 1e6} s from t0`,
      );
    }
  });
}

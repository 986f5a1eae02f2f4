import { AlpamayoError } from './AlpamayoError.js';
import { FRAMES_PER_CAMERA, MODEL_CAMERA_ORDER, type CameraName, type Frame, type Frames } from './types.js';
import { checkFinite, closestName, describeValue, invalidInput, isDetached, isPlainObject } from './validateCommon.js';

// The smallest size the official processor accepts depends on the checkpoint (smart_resize's factor);
// Planner.plan checks it per frame with the native smart_resize.
const MIN_SIDE = 1;

function validateFrame(field: string, frame: unknown): Frame {
  if (!isPlainObject(frame)) throw invalidInput(field, 'a frame object { data, width, height, timestampUs }', frame);
  const { data, width, height, timestampUs } = frame;
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < MIN_SIDE) {
      throw invalidInput(`${field}.${name}`, `an integer >= ${MIN_SIDE}`, v);
    }
  }
  if (!(data instanceof Uint8Array)) throw invalidInput(`${field}.data`, 'a Uint8Array of RGB bytes', data);
  if (isDetached(data)) throw invalidInput(`${field}.data`, 'a Uint8Array over a live buffer', data, 'its ArrayBuffer is detached, e.g. transferred to a worker');
  const w = width as number;
  const h = height as number;
  if (data.length !== w * h * 3) {
    throw invalidInput(`${field}.data`, `length width*height*3 = ${w}*${h}*3 = ${w * h * 3}`, data.length);
  }
  checkFinite(`${field}.timestampUs`, timestampUs);
  return frame as unknown as Frame;
}

/**
 * Checks the camera frames and returns them camera-major in the model's camera order
 * (cross_left, front_wide, cross_right, front_tele), each oldest -> newest.
 * @throws AlpamayoError `INVALID_INPUT` naming the field, e.g. `frames.front_wide[2].data`.
 * @internal
 */
export function validateFrames(frames: unknown): Frame[] {
  if (!isPlainObject(frames)) throw invalidInput('frames', `an object with cameras ${MODEL_CAMERA_ORDER.join(', ')}`, frames);
  for (const key of Object.keys(frames)) {
    if ((MODEL_CAMERA_ORDER as readonly string[]).includes(key)) continue;
    const guess = closestName(key, MODEL_CAMERA_ORDER);
    throw new AlpamayoError(
      `frames.${key}: unknown camera${guess ? `; did you mean '${guess}'?` : ''} (expected ${MODEL_CAMERA_ORDER.join(', ')})`,
      'INVALID_INPUT',
      { field: `frames.${key}`, expected: MODEL_CAMERA_ORDER, actual: key },
    );
  }
  const ordered: Frame[] = [];
  for (const camera of MODEL_CAMERA_ORDER) {
    const field = `frames.${camera}`;
    const list = (frames as Partial<Record<CameraName, unknown>>)[camera];
    if (list === undefined) throw invalidInput(field, `an array of ${FRAMES_PER_CAMERA} frames (camera missing)`, list);
    if (!Array.isArray(list) || list.length !== FRAMES_PER_CAMERA) {
      throw invalidInput(field, `an array of exactly ${FRAMES_PER_CAMERA} frames, oldest -> newest`, list);
    }
    let previous = -Infinity;
    list.forEach((item: unknown, i: number) => {
      const frame = validateFrame(`${field}[${i}]`, item);
      if (!(frame.timestampUs > previous)) {
        throw new AlpamayoError(
          `${field}[${i}].timestampUs: expected > ${previous} (frames oldest -> newest, strictly increasing), got ${describeValue(frame.timestampUs)}`,
          'INVALID_INPUT',
          { field: `${field}[${i}].timestampUs`, expected: `> ${previous}`, actual: frame.timestampUs },
        );
      }
      previous = frame.timestampUs;
      ordered.push(frame);
    });
  }
  return ordered;
}

/** Typed views of already-validated frames for the native request. @internal */
export function packFrames(ordered: readonly Frame[]): { frames: Uint8Array[]; widths: Int32Array; heights: Int32Array } {
  return {
    frames: ordered.map((f) => f.data),
    widths: Int32Array.from(ordered, (f) => f.width),
    heights: Int32Array.from(ordered, (f) => f.height),
  };
}

import { loadNative } from './native.js';

/** Vision settings that decide how many LLM tokens one image becomes. */
export interface VisionTokenSettings {
  /** ViT patch side in pixels. Qwen3-VL: 16. */
  patchSize: number;
  /** Patches merged per side into one LLM token. Qwen3-VL: 2. */
  mergeSize: number;
  /** Smallest resized area in pixels. Alpamayo: 163840. */
  minPixels: number;
  /** Largest resized area in pixels. Alpamayo: 196608. */
  maxPixels: number;
}

/** Alpamayo 1's settings (Qwen3-VL patch 16, merge 2; MIN/MAX_PIXELS of the official helper). */
export const ALPAMAYO_VISION_SETTINGS: VisionTokenSettings = { patchSize: 16, mergeSize: 2, minPixels: 163840, maxPixels: 196608 };

/**
 * Qwen-VL "smart resize" (the official processor's rule): the size an image is resampled to before
 * patching: both sides multiples of patch*merge, area within [minPixels, maxPixels], aspect ratio kept as
 * closely as possible. Runs the native implementation, the same one the planner preprocesses with.
 * @returns `[height, width]` in pixels.
 * @throws AlpamayoError `INVALID_INPUT` where the official rule rejects the size (a side shorter than
 *   patch*merge, aspect ratio over 200).
 */
export function smartResize(height: number, width: number, s: VisionTokenSettings = ALPAMAYO_VISION_SETTINGS): [number, number] {
  return loadNative().smartResize(height, width, s.patchSize * s.mergeSize, s.minPixels, s.maxPixels);
}

/** LLM tokens (`<|image_pad|>` count) for one image of this size. 1080x1920 -> 320x576 -> 180. */
export function imageTokenCount(width: number, height: number, s: VisionTokenSettings = ALPAMAYO_VISION_SETTINGS): number {
  const [h, w] = smartResize(height, width, s);
  return (h / s.patchSize) * (w / s.patchSize) / (s.mergeSize * s.mergeSize);
}

function findNumber(config: unknown, keys: readonly string[]): number | undefined {
  // Breadth-first so a top-level override wins over a nested vision_config value.
  const queue: unknown[] = [config];
  while (queue.length > 0) {
    const node = queue.shift();
    if (typeof node !== 'object' || node === null) continue;
    for (const key of keys) {
      const v = (node as Record<string, unknown>)[key];
      if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
    }
    for (const v of Object.values(node as Record<string, unknown>)) if (typeof v === 'object' && v !== null) queue.push(v);
  }
  return undefined;
}

/**
 * Vision settings from a model config (the planner's load result): `patch_size`, `spatial_merge_size`,
 * `min_pixels`, `max_pixels` wherever they appear (top level first), else Alpamayo's values.
 * @internal
 */
export function visionSettingsFromConfig(config: unknown): VisionTokenSettings {
  const d = ALPAMAYO_VISION_SETTINGS;
  return {
    patchSize: findNumber(config, ['patch_size']) ?? d.patchSize,
    mergeSize: findNumber(config, ['spatial_merge_size', 'merge_size']) ?? d.mergeSize,
    minPixels: findNumber(config, ['min_pixels']) ?? d.minPixels,
    maxPixels: findNumber(config, ['max_pixels']) ?? d.maxPixels,
  };
}

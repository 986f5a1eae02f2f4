import { mkdir } from 'node:fs/promises';
import { AlpamayoError } from './AlpamayoError.js';
import { loadNative } from './native.js';
import { writeTokenizerFiles } from './tokenizerFiles.js';
import { checkInteger, checkKnownKeys, invalidInput, isPlainObject } from './validateCommon.js';

/** The built-in random-weight checkpoint configurations. */
export type CheckpointPreset = 'tiny' | 'small' | 'realdims';
/** Every {@link CheckpointPreset}. @internal */
export const CHECKPOINT_PRESETS: readonly CheckpointPreset[] = ['tiny', 'small', 'realdims'];
/** @internal */
export const isCheckpointPreset = (p: unknown): p is CheckpointPreset => (CHECKPOINT_PRESETS as readonly unknown[]).includes(p);

/** Options of {@link makeCheckpoint}. */
export interface MakeCheckpointOptions {
  /**
   * `tiny` (a few MB, plans in milliseconds; the default), `small` (tens of MB) or `realdims` (the release's
   * layer widths with 2 backbone layers, 1 expert layer and 2 vision blocks: 1.3 GB, for numerics at real sizes).
   */
  preset?: CheckpointPreset;
  /** Seed of the random weights: the same seed writes the same checkpoint. Integer in 0..2^32-1; default 0. */
  seed?: number;
}

/** What {@link makeCheckpoint} wrote. */
export interface MakeCheckpointResult {
  dir: string;
  preset: CheckpointPreset;
  seed: number;
}

/**
 * Writes a random-weight test checkpoint (config.json, safetensors weights, tokenizer and chat template)
 * to `dir`, creating it if needed. Its plans exercise the whole pipeline on every backend, but the
 * reasoning text and paths are noise: use it for tests, demos and install checks, not for driving.
 *
 * ```ts
 * await makeCheckpoint('.cache/tiny', { preset: 'tiny', seed: 1 });
 * const planner = await Planner.load({ checkpoint: '.cache/tiny', backend: 'cpu' });
 * ```
 * @throws AlpamayoError `INVALID_INPUT` (options, or a directory that cannot be created or written),
 * `BACKEND_UNAVAILABLE` (no native addon).
 */
export async function makeCheckpoint(dir: string, options: MakeCheckpointOptions = {}): Promise<MakeCheckpointResult> {
  if (typeof dir !== 'string' || dir === '') throw invalidInput('dir', 'a directory path (non-empty string)', dir);
  if (!isPlainObject(options)) throw invalidInput('options', 'an options object { preset, seed }', options);
  checkKnownKeys(options, ['preset', 'seed'], 'options');
  const preset: unknown = options.preset ?? 'tiny';
  if (!isCheckpointPreset(preset)) throw invalidInput('options.preset', "'tiny', 'small' or 'realdims'", preset);
  const seed = options.seed === undefined ? 0 : checkInteger('options.seed', options.seed, 0, 2 ** 32 - 1);
  const addon = loadNative();
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new AlpamayoError(`${dir}: cannot create the checkpoint directory (${e.code ?? e.message})`, 'INVALID_INPUT', {
      field: 'dir',
      expected: 'a writable directory path',
      actual: dir,
      cause: err,
    });
  }
  addon.makeCheckpoint(dir, preset, seed);
  try {
    await writeTokenizerFiles(dir, addon.tokenLayout(preset));
  } catch (err) {
    throw new AlpamayoError(`${dir}: cannot write the tokenizer files (${(err as Error).message})`, 'INVALID_INPUT', { field: 'dir', actual: dir, cause: err });
  }
  return { dir, preset, seed };
}

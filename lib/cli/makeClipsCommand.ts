// `alpamayo-trt make-clips DIR --count N --seed S`: synthetic PhysicalAI-AV clips in the real layout.
import { AlpamayoError } from '../AlpamayoError.js';
import { integerFlag, numberFlag } from './cliFlags.js';
import { parseFlags } from './parseFlags.js';
import type { CliIo } from './runCli.js';
import { writeSyntheticClips } from './syntheticClips.js';

export const MAKE_CLIPS_USAGE = `alpamayo-trt make-clips DIR --count N [--seed S] [--width W] [--height H] [--duration SECONDS] [--clips-per-chunk N]
  Writes N synthetic PhysicalAI-AV clips under DIR in the published layout (features.csv, clip_index.parquet,
  metadata/, per-chunk zips of egomotion parquet, H.264 mp4 and frame-timestamp parquet per camera).
  Defaults: 320x180 frames, 13 s clips, 10 clips per chunk. Needs ffmpeg on PATH (or ALPAMAYO_FFMPEG).`;

/** @internal */
export async function runMakeClips(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    help: { type: 'boolean', short: 'h' },
    count: { type: 'string' },
    seed: { type: 'string' },
    width: { type: 'string' },
    height: { type: 'string' },
    duration: { type: 'string' },
    'clips-per-chunk': { type: 'string' },
  });
  if (values.help) {
    io.out(MAKE_CLIPS_USAGE);
    return 0;
  }
  const dir = positionals[0];
  if (!dir || positionals.length > 1) throw new AlpamayoError('make-clips: expected one directory', 'INVALID_INPUT', { field: 'make-clips', actual: positionals });
  const count = integerFlag('count', values.count, 1, 1_000_000);
  if (count === undefined) throw new AlpamayoError('make-clips: --count N is required', 'INVALID_INPUT', { field: '--count' });
  const opts = {
    count,
    seed: integerFlag('seed', values.seed, 0, 0xffffffff) ?? 0,
    ...(values.width !== undefined ? { width: integerFlag('width', values.width, 64, 8192)! } : {}),
    ...(values.height !== undefined ? { height: integerFlag('height', values.height, 64, 8192)! } : {}),
    ...(values.duration !== undefined ? { durationS: numberFlag('duration', values.duration)! } : {}),
    ...(values['clips-per-chunk'] !== undefined ? { clipsPerChunk: integerFlag('clips-per-chunk', values['clips-per-chunk'], 1)! } : {}),
  };
  const t = performance.now();
  const ids = await writeSyntheticClips(dir, opts);
  io.out(`wrote ${ids.length} clips (seed ${opts.seed}) to ${dir} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return 0;
}

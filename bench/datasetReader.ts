// PhysicalAI-AV reader throughput: clips/s for loadSample() (4 cameras x 4 RGB frames + 80 poses), decode
// ms per returned frame, FFmpeg's raw decode ms per frame, and the egomotion read + spline time.
// node --import=@tapjs/typescript/import bench/datasetReader.ts [dataDir] [clips] [WxH]
// A missing dataDir is filled with synthetic clips by the built CLI (npm run build:ts first).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PhysicalAIAVDataset } from '../lib/dataset/PhysicalAIAVDataset.js';
import { DATASET_CAMERA_FEATURES } from '../lib/dataset/types.js';
import { ffmpegTools } from '../lib/dataset/videoFrames.js';
import { MODEL_CAMERA_ORDER } from '../lib/types.js';

const [dir = '.cache/bench-clips-1080p', clipsArg = '2', size = '1920x1080'] = process.argv.slice(2);
if (!existsSync(dir)) {
  const [w, h] = size.split('x');
  console.error(`making ${clipsArg} ${size} clips in ${dir} ...`);
  const r = spawnSync(process.execPath, ['dist/esm/cli/cli.js', 'make-clips', dir, '--count', clipsArg, '--width', w!, '--height', h!, '--duration', '12'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
}
const ds = await PhysicalAIAVDataset.open(dir);
const ids = ds.clipIds;
const first = await ds.loadSample(ids[0]!); // warm-up (zip directories, page cache)
const { width, height } = first.frames.front_wide[0]!;

const seq: number[] = [];
for (const id of ids) {
  const t = performance.now();
  await ds.loadSample(id);
  seq.push(performance.now() - t);
}
const tPar = performance.now();
await Promise.all(ids.map((id) => ds.loadSample(id)));
const par = performance.now() - tPar;

const cam: number[] = [];
for (const id of ids) {
  for (const c of MODEL_CAMERA_ORDER) {
    const t = performance.now();
    await ds.framesAt(id, c, [4_800_000, 4_900_000, 5_000_000, 5_100_000]);
    cam.push(performance.now() - t);
  }
}
const ego: number[] = [];
for (const id of ids) {
  const t = performance.now();
  (await ds.egomotion(id)).at(Array.from({ length: 80 }, (_, i) => 3_600_000 + i * 100_000));
  ego.push(performance.now() - t);
}

// FFmpeg alone: decode every frame of one camera video (1 thread, no conversion), and with RGB24 output.
const tmp = mkdtempSync(join(tmpdir(), 'bench-'));
const mp4 = join(tmp, 'v.mp4');
writeFileSync(mp4, await ds.readClipFile(ids[0]!, DATASET_CAMERA_FEATURES.front_wide, 'video'));
const frames = (await ds.frameTimestamps(ids[0]!, 'front_wide')).length;
const raw = (extra: string[]): number => {
  const t = performance.now();
  const r = spawnSync(ffmpegTools().ffmpeg, ['-v', 'error', '-threads', '1', '-i', mp4, ...extra, '-f', 'null', '-'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('ffmpeg failed');
  return (performance.now() - t) / frames;
};
const rawDecode = raw([]);
const rawRgb = raw(['-pix_fmt', 'rgb24']);
rmSync(tmp, { recursive: true, force: true });
await ds.close();

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
console.log(`${cpus()[0]?.model} x ${cpus().length}, ${platform()}, Node ${process.version}; ${ids.length} clips ${width}x${height} (${dir})`);
console.log('| measure | value |\n|---|---:|');
console.log(`| loadSample, one clip at a time | ${mean(seq).toFixed(0)} ms/clip = ${(1000 / mean(seq)).toFixed(2)} clips/s |`);
console.log(`| loadSample, ${ids.length} clips at once | ${(par / ids.length).toFixed(0)} ms/clip = ${((1000 * ids.length) / par).toFixed(2)} clips/s |`);
console.log(`| 4 frames of one camera (ffprobe, seek, decode, RGB; stored video read in place from the zip) | ${mean(cam).toFixed(0)} ms = ${(mean(cam) / 4).toFixed(1)} ms/frame |`);
console.log(`| ffmpeg decode, whole video, 1 thread | ${rawDecode.toFixed(2)} ms/frame |`);
console.log(`| ffmpeg decode + RGB24, whole video, 1 thread | ${rawRgb.toFixed(2)} ms/frame |`);
console.log(`| egomotion parquet + spline + 80 poses | ${mean(ego).toFixed(1)} ms |`);

// Synthetic PhysicalAI-AV clips in the published layout, for tests, the bench and the demo: a seeded
// drive (speed, yaw, pitch and roll varying smoothly) sampled at ~100 Hz with jittered timestamps as the
// egomotion parquet; per camera an H.264 mp4 encoded by FFmpeg (30 fps, key frame every second,
// B-frames, BT.709 tags) from a moving test pattern tinted per clip and camera, with a jittered
// frame-timestamp parquet; both packed in per-chunk zips with features.csv, clip_index.parquet and
// metadata/sensor_presence.parquet beside them.
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import yazl from 'yazl';
import { AlpamayoError } from '../AlpamayoError.js';
import { DATASET_CAMERA_FEATURES, EGOMOTION_FEATURE } from '../dataset/types.js';
import { ffmpegTools, runTool } from '../dataset/videoFrames.js';

/** Options of {@link writeSyntheticClips}. */
export interface SyntheticClipsOptions {
  /** Number of clips. */
  count: number;
  /** uint32 seed; the same seed gives the same clips (ids, trajectories, frame timestamps). */
  seed?: number;
  /** Frame size; even numbers >= 64. Default 320x180. */
  width?: number;
  height?: number;
  /** Clip length in seconds, >= 12 (t0 = 5.1 s needs 1.5 s before and 6.4 s after). Default 13. */
  durationS?: number;
  /** Clips per chunk zip. Default 10. */
  clipsPerChunk?: number;
  /** FFmpeg encodes run at once. Default 2. */
  concurrency?: number;
}

const FPS = 30;
const EGO_HZ = 100;
const CAMERAS = Object.values(DATASET_CAMERA_FEATURES);

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function clipId(rand: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

interface Drive {
  t: BigInt64Array;
  cols: Record<string, Float64Array>;
}

/** A smooth seeded drive sampled at ~100 Hz (jittered), as the egomotion table's columns. */
function drive(rand: () => number, durationUs: number): Drive {
  const ts: number[] = [0];
  const stepUs = 1e6 / EGO_HZ;
  for (let i = 1; ; i++) {
    const t = Math.round(i * stepUs + (rand() - 0.5) * 3000);
    if (t > durationUs) break;
    ts.push(t);
  }
  if (ts[ts.length - 1]! < durationUs) ts.push(durationUs);
  const n = ts.length;
  const names = ['x', 'y', 'z', 'qx', 'qy', 'qz', 'qw', 'vx', 'vy', 'vz', 'ax', 'ay', 'az', 'curvature'];
  const cols = Object.fromEntries(names.map((c) => [c, new Float64Array(n)])) as Record<string, Float64Array>;
  const v0 = 3 + 12 * rand();
  const [av, wv, pv] = [0.3 * v0 * rand(), 0.2 + 0.6 * rand(), 6.3 * rand()];
  const [ky, wy, py] = [0.05 + 0.25 * rand(), 0.1 + 0.5 * rand(), 6.3 * rand()];
  const [kp, wp] = [0.02 * rand(), 0.3 + rand()];
  const [kr, wr] = [0.02 * rand(), 0.3 + rand()];
  let x = 2000 * (rand() - 0.5);
  let y = 2000 * (rand() - 0.5);
  let z = 50 * rand();
  let yaw = 6.3 * rand();
  for (let i = 0; i < n; i++) {
    const t = ts[i]! / 1e6;
    const v = v0 + av * Math.sin(wv * t + pv);
    const dv = av * wv * Math.cos(wv * t + pv);
    const yawRate = ky * Math.sin(wy * t + py);
    const pitch = kp * Math.sin(wp * t);
    const roll = kr * Math.sin(wr * t + 1);
    if (i > 0) {
      const dt = (ts[i]! - ts[i - 1]!) / 1e6;
      yaw += yawRate * dt;
      x += v * Math.cos(yaw) * Math.cos(pitch) * dt;
      y += v * Math.sin(yaw) * Math.cos(pitch) * dt;
      z -= v * Math.sin(pitch) * dt;
    }
    // Z-Y-X (yaw, pitch, roll) to a quaternion, scalar last.
    const [cy, sy] = [Math.cos(yaw / 2), Math.sin(yaw / 2)];
    const [cp, sp] = [Math.cos(pitch / 2), Math.sin(pitch / 2)];
    const [cr, sr] = [Math.cos(roll / 2), Math.sin(roll / 2)];
    const row: Record<string, number> = {
      x,
      y,
      z,
      qx: sr * cp * cy - cr * sp * sy,
      qy: cr * sp * cy + sr * cp * sy,
      qz: cr * cp * sy - sr * sp * cy,
      qw: cr * cp * cy + sr * sp * sy,
      vx: v,
      vy: 0,
      vz: 0,
      ax: dv,
      ay: v * yawRate,
      az: 0,
      curvature: yawRate / v,
    };
    for (const c of names) cols[c]![i] = row[c]!;
  }
  return { t: BigInt64Array.from(ts, (v) => BigInt(v)), cols };
}

function frameTimestamps(rand: () => number, durationUs: number): BigInt64Array {
  const offset = Math.round(rand() * 5000);
  // One timestamp per encoded frame.
  const frames = Math.round((durationUs / 1e6) * FPS);
  return BigInt64Array.from({ length: frames }, (_, i) => BigInt(offset + Math.round((i * 1e6) / FPS + (rand() - 0.5) * 2000)));
}

async function parquet(columnData: { name: string; data: BigInt64Array | Float64Array | string[] | boolean[]; type: 'INT64' | 'DOUBLE' | 'STRING' | 'BOOLEAN' }[], pandasIndex?: string): Promise<Buffer> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  // pandas restores its index from this metadata (clip_index.at[clip_id, "chunk"] in the official code).
  const numpy = { INT64: 'int64', DOUBLE: 'float64', STRING: 'object', BOOLEAN: 'bool' };
  const pandasType = { INT64: 'int64', DOUBLE: 'float64', STRING: 'unicode', BOOLEAN: 'bool' };
  const kvMetadata = pandasIndex
    ? [
        {
          key: 'pandas',
          value: JSON.stringify({
            index_columns: [pandasIndex],
            column_indexes: [{ name: null, field_name: null, pandas_type: 'unicode', numpy_type: 'object', metadata: { encoding: 'UTF-8' } }],
            columns: columnData.map((c) => ({ name: c.name, field_name: c.name, pandas_type: pandasType[c.type], numpy_type: numpy[c.type], metadata: null })),
            creator: { library: 'alpamayo-trt', version: '0' },
            pandas_version: '2.2.0',
          }),
        },
      ]
    : undefined;
  return Buffer.from(parquetWriteBuffer({ columnData: columnData.map((c) => ({ ...c, data: c.data as never, nullable: false })), ...(kvMetadata ? { kvMetadata } : {}) }));
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

async function encodeVideo(path: string, width: number, height: number, durationS: number, hue: number, saturation: number): Promise<void> {
  await runTool(
    ffmpegTools().ffmpeg,
    [
      '-v', 'error', '-nostdin', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${FPS}:duration=${durationS}`,
      '-vf', `hue=h=${hue.toFixed(1)}:s=${saturation.toFixed(2)},format=yuv420p`,
      '-c:v', 'libx264', '-preset', 'veryfast', '-g', String(FPS), '-bf', '2', '-threads', '1',
      '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv',
      '-movflags', '+faststart', path,
    ],
    'make-clips',
  );
}

async function writeZip(path: string, members: { name: string; data: Buffer; compress: boolean }[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const zip = new yazl.ZipFile();
  for (const m of members) zip.addBuffer(m.data, m.name, { compress: m.compress, mtime: new Date(0) });
  zip.end();
  const out = createWriteStream(path);
  zip.outputStream.pipe(out);
  await finished(out);
}

async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * Writes `count` synthetic clips under `dir` in the PhysicalAI-AV layout.
 * @returns the clip ids, in clip_index order.
 */
export async function writeSyntheticClips(dir: string, opts: SyntheticClipsOptions): Promise<string[]> {
  const { count, seed = 0, width = 320, height = 180, durationS = 13, clipsPerChunk = 10, concurrency = 2 } = opts;
  const check = (field: string, ok: boolean, expected: string, actual: unknown): void => {
    if (!ok) throw new AlpamayoError(`make-clips: ${field}: expected ${expected}, got ${String(actual)}`, 'INVALID_INPUT', { field, expected, actual });
  };
  check('count', Number.isInteger(count) && count >= 1, 'an integer >= 1', count);
  check('seed', Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff, 'a uint32', seed);
  check('width', Number.isInteger(width) && width >= 64 && width % 2 === 0, 'an even integer >= 64', width);
  check('height', Number.isInteger(height) && height >= 64 && height % 2 === 0, 'an even integer >= 64', height);
  check('durationS', Number.isFinite(durationS) && durationS >= 12, 'at least 12 seconds', durationS);
  check('clipsPerChunk', Number.isInteger(clipsPerChunk) && clipsPerChunk >= 1, 'an integer >= 1', clipsPerChunk);
  const rand = mulberry32(seed);
  const durationUs = Math.round(durationS * 1e6);
  const clips = Array.from({ length: count }, (_, i) => ({ id: clipId(rand), chunk: Math.floor(i / clipsPerChunk), seed: Math.floor(rand() * 0xffffffff) }));
  await mkdir(join(dir, 'metadata'), { recursive: true });

  const cameraPath = (cam: string): string => `camera/${cam}/${cam}.chunk_{chunk_id:04d}.zip`;
  const features = [
    ['feature', 'directory', 'chunk_path', 'clip_files_in_zip'],
    [EGOMOTION_FEATURE, 'labels', 'labels/egomotion/egomotion.chunk_{chunk_id:04d}.zip', JSON.stringify({ egomotion: '{clip_id}.egomotion.parquet' })],
    ...CAMERAS.map((cam) => [cam, 'camera', cameraPath(cam), JSON.stringify({ video: `{clip_id}.${cam}.mp4`, frame_timestamps: `{clip_id}.${cam}.timestamps.parquet` })]),
  ];
  await writeFile(join(dir, 'features.csv'), features.map((r) => r.map(csvField).join(',')).join('\n') + '\n');
  await writeFile(
    join(dir, 'clip_index.parquet'),
    await parquet(
      [
        { name: 'chunk', data: BigInt64Array.from(clips, (c) => BigInt(c.chunk)), type: 'INT64' },
        { name: 'clip_id', data: clips.map((c) => c.id), type: 'STRING' },
      ],
      'clip_id',
    ),
  );
  await writeFile(
    join(dir, 'metadata', 'sensor_presence.parquet'),
    await parquet([...CAMERAS.map((cam) => ({ name: cam, data: clips.map(() => true), type: 'BOOLEAN' as const })), { name: 'clip_id', data: clips.map((c) => c.id), type: 'STRING' }], 'clip_id'),
  );

  const tmp = await mkdtemp(join(tmpdir(), 'alpamayo-clips-'));
  try {
    const encodes = clips.flatMap((c, i) => CAMERAS.map((cam, k) => ({ clip: c, cam, path: join(tmp, `${c.id}.${cam}.mp4`), hue: (c.seed % 360) + 90 * k, sat: 0.6 + ((i * 7 + k) % 5) / 10 })));
    await pool(encodes, concurrency, (e) => encodeVideo(e.path, width, height, durationS, e.hue % 360, e.sat));
    const chunks = [...new Set(clips.map((c) => c.chunk))];
    for (const chunk of chunks) {
      const inChunk = clips.filter((c) => c.chunk === chunk);
      const tag = String(chunk).padStart(4, '0');
      const ego = await Promise.all(
        inChunk.map(async (c) => {
          const d = drive(mulberry32(c.seed), durationUs);
          const data = await parquet([{ name: 'timestamp', data: d.t, type: 'INT64' }, ...Object.entries(d.cols).map(([name, data]) => ({ name, data, type: 'DOUBLE' as const }))]);
          return { name: `${c.id}.egomotion.parquet`, data, compress: true };
        }),
      );
      await writeZip(join(dir, `labels/egomotion/egomotion.chunk_${tag}.zip`), ego);
      for (const [k, cam] of CAMERAS.entries()) {
        const members = [];
        for (const c of inChunk) {
          members.push({ name: `${c.id}.${cam}.mp4`, data: await readFile(join(tmp, `${c.id}.${cam}.mp4`)), compress: false });
          const ts = frameTimestamps(mulberry32((c.seed + k + 1) >>> 0), durationUs);
          members.push({ name: `${c.id}.${cam}.timestamps.parquet`, data: await parquet([{ name: 'timestamp', data: ts, type: 'INT64' }]), compress: true });
        }
        await writeZip(join(dir, `camera/${cam}/${cam}.chunk_${tag}.zip`), members);
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return clips.map((c) => c.id);
}

// Reader for the PhysicalAI-AV dataset in its published layout on local disk:
//   features.csv                feature -> directory, chunk_path template, clip_files_in_zip (JSON templates)
//   clip_index.parquet          clip_id -> chunk
//   metadata/                   per-clip tables (sensor_presence.parquet, ...)
//   labels/egomotion/egomotion.chunk_NNNN.zip          <clip>.egomotion.parquet
//   camera/<camera>/<camera>.chunk_NNNN.zip            <clip>.<camera>.mp4 + <clip>.<camera>.timestamps.parquet
// (the paths come from features.csv, not from this list). loadSample() yields what NVlabs/alpamayo's
// load_physical_aiavdataset yields through NVlabs/physical_ai_av.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AlpamayoError } from '../AlpamayoError.js';
import type { CameraName, Frame, Frames } from '../types.js';
import { MODEL_CAMERA_ORDER } from '../types.js';
import { egoTrajectory } from './egoTrajectory.js';
import { floatColumn, integerColumn, readParquetColumns } from './parquetColumns.js';
import { PoseInterpolator } from './poseInterpolator.js';
import { pythonFormat } from './pythonFormat.js';
import { DATASET_CAMERA_FEATURES, DEFAULT_T0_US, EGOMOTION_FEATURE, type ClipSample, type LoadSampleOptions } from './types.js';
import { decodeFrames, frameIndicesAt, probeVideo } from './videoFrames.js';
import { ZipArchive } from './zipArchive.js';

/** One row of features.csv. */
export interface DatasetFeature {
  name: string;
  directory: string;
  /** Template with `{chunk_id:04d}`. */
  chunkPath: string;
  /** Member templates with `{clip_id}`, keyed by role (`video`, `frame_timestamps`, `egomotion`, ...); absent for plain parquet features. */
  clipFilesInZip?: Record<string, string>;
}

/** Options of {@link PhysicalAIAVDataset.open}. */
export interface DatasetOpenOptions {
  /** Chunk zips kept open at once (each holds its member list in memory). Default 16. */
  maxOpenZips?: number;
}

const STEP_US = 100_000;
const FRAMES = 4;

/** PhysicalAI-AV clips in a local directory, read as the official loader reads them. */
export class PhysicalAIAVDataset {
  /** The dataset root. */
  readonly root: string;
  /** features.csv, by feature name. */
  readonly features: ReadonlyMap<string, DatasetFeature>;
  readonly #chunks: Map<string, number>;
  readonly #zips = new Map<string, Promise<ZipArchive>>();
  readonly #maxOpenZips: number;
  #closed = false;

  private constructor(root: string, features: Map<string, DatasetFeature>, chunks: Map<string, number>, opts: DatasetOpenOptions) {
    this.root = root;
    this.features = features;
    this.#chunks = chunks;
    this.#maxOpenZips = opts.maxOpenZips ?? 16;
  }

  /** Reads features.csv and clip_index.parquet under `root`. */
  static async open(root: string, opts: DatasetOpenOptions = {}): Promise<PhysicalAIAVDataset> {
    const features = await readFeatures(join(root, 'features.csv'));
    const chunks = await readClipIndex(join(root, 'clip_index.parquet'));
    for (const name of [EGOMOTION_FEATURE, ...Object.values(DATASET_CAMERA_FEATURES)]) {
      const f = features.get(name);
      if (!f?.clipFilesInZip) throw new AlpamayoError(`dataset: features.csv has no zipped feature '${name}'`, 'INVALID_INPUT', { field: 'features.csv', expected: name });
    }
    return new PhysicalAIAVDataset(root, features, chunks, opts);
  }

  /** Every clip id of clip_index.parquet, in file order. */
  get clipIds(): string[] {
    return [...this.#chunks.keys()];
  }

  /** Chunk index of a clip. */
  chunkOf(clipId: string): number {
    const chunk = this.#chunks.get(clipId);
    if (chunk === undefined) throw new AlpamayoError(`dataset: unknown clip '${clipId}' (not in clip_index.parquet)`, 'INVALID_INPUT', { field: 'clipId', expected: 'a clip of clip_index.parquet', actual: clipId });
    return chunk;
  }

  /** Bytes of one member of a clip's feature zip (`role` is a key of clip_files_in_zip). */
  async readClipFile(clipId: string, feature: string, role: string): Promise<Buffer> {
    const { zip, name } = await this.#member(clipId, feature, role);
    return zip.read(name);
  }

  async #member(clipId: string, feature: string, role: string): Promise<{ zip: ZipArchive; name: string }> {
    const f = this.features.get(feature);
    const template = f?.clipFilesInZip?.[role];
    if (!f || !template) throw new AlpamayoError(`dataset: feature '${feature}' has no zipped file '${role}'`, 'INVALID_INPUT', { field: 'feature', actual: `${feature}/${role}` });
    const zipPath = resolve(this.root, pythonFormat(f.chunkPath, { chunk_id: this.chunkOf(clipId) }));
    return { zip: await this.#zip(zipPath), name: pythonFormat(template, { clip_id: clipId }) };
  }

  /**
   * Runs `use` with a path FFmpeg can open for a clip's video: the bytes inside the chunk zip when the
   * member is stored uncompressed (FFmpeg's subfile protocol; no copy), else a temporary file.
   */
  async #withVideoPath<T>(clipId: string, camera: CameraName, use: (path: string) => Promise<T>): Promise<T> {
    const { zip, name } = await this.#member(clipId, DATASET_CAMERA_FEATURES[camera], 'video');
    const range = await zip.storedRange(name);
    if (range && !zip.path.includes(',,')) return use(`subfile,,start,${range.start},end,${range.end},,:${zip.path}`);
    const dir = await mkdtemp(join(tmpdir(), 'alpamayo-video-'));
    try {
      const path = join(dir, 'video.mp4');
      await writeFile(path, await zip.read(name));
      return await use(path);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** The clip's egomotion series as an interpolator over its whole time range. */
  async egomotion(clipId: string): Promise<PoseInterpolator> {
    const what = `${clipId}.egomotion`;
    const cols = await readParquetColumns(await this.readClipFile(clipId, EGOMOTION_FEATURE, 'egomotion'), ['timestamp', 'x', 'y', 'z', 'qx', 'qy', 'qz', 'qw'], what);
    const t = integerColumn(`${what}.timestamp`, cols.timestamp!);
    const n = t.length;
    const xyz = new Float64Array(3 * n);
    const q = new Float64Array(4 * n);
    (['x', 'y', 'z'] as const).forEach((c, d) => floatColumn(`${what}.${c}`, cols[c]!).forEach((v, i) => (xyz[3 * i + d] = v)));
    (['qx', 'qy', 'qz', 'qw'] as const).forEach((c, d) => floatColumn(`${what}.${c}`, cols[c]!).forEach((v, i) => (q[4 * i + d] = v)));
    return new PoseInterpolator(t, xyz, q);
  }

  /** Frame timestamps (microseconds) of one camera of a clip. */
  async frameTimestamps(clipId: string, camera: CameraName): Promise<number[]> {
    const what = `${clipId}.${DATASET_CAMERA_FEATURES[camera]}.timestamps`;
    const cols = await readParquetColumns(await this.readClipFile(clipId, DATASET_CAMERA_FEATURES[camera], 'frame_timestamps'), ['timestamp'], what);
    return integerColumn(`${what}.timestamp`, cols.timestamp!);
  }

  /**
   * The camera frames at or before `timestampsUs` (RGB24, full size), each with its frame index and own timestamp.
   */
  async framesAt(clipId: string, camera: CameraName, timestampsUs: readonly number[]): Promise<{ frames: Frame[]; indices: number[] }> {
    const frameTs = await this.frameTimestamps(clipId, camera);
    const indices = frameIndicesAt(frameTs, timestampsUs);
    return this.#withVideoPath(clipId, camera, async (path) => {
      const info = await probeVideo(path);
      const data = await decodeFrames(path, info, indices);
      return {
        frames: data.map((d, k) => ({ data: d, width: info.width, height: info.height, timestampUs: frameTs[indices[k]!]! })),
        indices,
      };
    });
  }

  /**
   * What the official loader yields for `clipId` at t0: 4 cameras x 4 frames (t0-0.3 ... t0), 16 history
   * poses and the 64 ground-truth future poses, in the t0 ego frame.
   */
  async loadSample(clipId: string, opts: LoadSampleOptions = {}): Promise<ClipSample> {
    if (this.#closed) throw new AlpamayoError('dataset: closed', 'DISPOSED');
    const t0Us = opts.t0Us ?? DEFAULT_T0_US;
    const chunk = this.chunkOf(clipId);
    const poses = await this.egomotion(clipId);
    const trajectory = egoTrajectory(poses, t0Us);
    const imageTimes = Array.from({ length: FRAMES }, (_, i) => t0Us - (FRAMES - 1 - i) * STEP_US);
    const perCamera = await Promise.all(MODEL_CAMERA_ORDER.map((cam) => this.framesAt(clipId, cam, imageTimes)));
    const frames = {} as Record<CameraName, Frame[]>;
    const frameIndices = {} as Record<CameraName, number[]>;
    MODEL_CAMERA_ORDER.forEach((cam, k) => {
      frames[cam] = perCamera[k]!.frames;
      frameIndices[cam] = perCamera[k]!.indices;
    });
    return { clipId, chunk, t0Us, frames: frames as Frames, frameIndices, ...trajectory };
  }

  /** Closes the open chunk zips. */
  async close(): Promise<void> {
    this.#closed = true;
    const zips = [...this.#zips.values()];
    this.#zips.clear();
    for (const z of await Promise.allSettled(zips)) if (z.status === 'fulfilled') z.value.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #zip(path: string): Promise<ZipArchive> {
    let z = this.#zips.get(path);
    if (z) {
      // Most recently used last.
      this.#zips.delete(path);
      this.#zips.set(path, z);
      return z;
    }
    z = ZipArchive.open(path);
    z.catch(() => this.#zips.delete(path));
    this.#zips.set(path, z);
    while (this.#zips.size > this.#maxOpenZips) {
      const [oldest, pz] = this.#zips.entries().next().value as [string, Promise<ZipArchive>];
      this.#zips.delete(oldest);
      // Reads already started on it hold the descriptor until they finish.
      void pz.then((a) => setTimeout(() => a.close(), 5_000).unref(), () => {});
    }
    return z;
  }
}

async function readFeatures(path: string): Promise<Map<string, DatasetFeature>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new AlpamayoError(`dataset: cannot read ${path}: ${(e as Error).message}`, 'INVALID_INPUT', { field: 'features.csv', cause: e });
  }
  const { parse } = await import('csv-parse/sync');
  const rows = parse(text, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
  const out = new Map<string, DatasetFeature>();
  for (const [i, r] of rows.entries()) {
    if (!r.feature || !r.chunk_path) throw new AlpamayoError(`features.csv row ${i + 1}: needs 'feature' and 'chunk_path'`, 'INVALID_INPUT', { field: 'features.csv', actual: r });
    let clipFilesInZip: Record<string, string> | undefined;
    if (r.clip_files_in_zip) {
      try {
        clipFilesInZip = JSON.parse(r.clip_files_in_zip) as Record<string, string>;
      } catch (e) {
        throw new AlpamayoError(`features.csv row ${i + 1}: clip_files_in_zip is not JSON`, 'INVALID_INPUT', { field: 'features.csv', actual: r.clip_files_in_zip, cause: e });
      }
    }
    out.set(r.feature, { name: r.feature, directory: r.directory ?? '', chunkPath: r.chunk_path, ...(clipFilesInZip ? { clipFilesInZip } : {}) });
  }
  return out;
}

async function readClipIndex(path: string): Promise<Map<string, number>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new AlpamayoError(`dataset: cannot read ${path}: ${(e as Error).message}`, 'INVALID_INPUT', { field: 'clip_index.parquet', cause: e });
  }
  // pandas stores the clip_id index as a column of that name.
  const cols = await readParquetColumns(bytes, ['clip_id', 'chunk'], 'clip_index.parquet');
  const chunks = integerColumn('clip_index.parquet.chunk', cols.chunk!);
  const out = new Map<string, number>();
  Array.from(cols.clip_id!).forEach((id, i) => out.set(String(id), chunks[i]!));
  return out;
}

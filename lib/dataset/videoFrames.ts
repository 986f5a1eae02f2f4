// Camera frames "at or before" requested times, decoded with the FFmpeg command-line tools as
// physical_ai_av's SeekVideoReader decodes them with PyAV: the frame index is the last frame timestamp
// <= the requested time (from the clip's frame-timestamp parquet), frames are found by
// round(pts / pts_per_frame) after a seek to the key frame before them, and converted to packed RGB24 at
// full size with swscale's bilinear setting (PyAV's default; the unscaled YUV->RGB path it takes gives
// the same bytes).
import { spawn } from 'node:child_process';
import { AlpamayoError } from '../AlpamayoError.js';

/** Where the FFmpeg tools are: `ALPAMAYO_FFMPEG` / `ALPAMAYO_FFPROBE`, else `ffmpeg` / `ffprobe` on PATH. @internal */
export function ffmpegTools(): { ffmpeg: string; ffprobe: string } {
  return { ffmpeg: process.env.ALPAMAYO_FFMPEG ?? 'ffmpeg', ffprobe: process.env.ALPAMAYO_FFPROBE ?? 'ffprobe' };
}

/** Runs a tool, resolves with its stdout; a non-zero exit or a missing tool is an AlpamayoError. @internal */
export function runTool(cmd: string, args: readonly string[], what: string, input?: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => {
      if (err.length < 4000) err += b.toString();
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' ? ` (install FFmpeg, e.g. apt-get install ffmpeg, or set ALPAMAYO_FFMPEG/ALPAMAYO_FFPROBE)` : '';
      reject(new AlpamayoError(`${what}: cannot run ${cmd}: ${e.message}${hint}`, 'BACKEND_UNAVAILABLE', { cause: e }));
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new AlpamayoError(`${what}: ${cmd} exited with ${code ?? signal}: ${err.trim().slice(-1000)}`, 'INVALID_INPUT', { field: what }));
    });
    if (input) {
      // EPIPE when the tool exits early is reported through 'close'.
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
  });
}

/** Stream facts the frame lookup needs. @internal */
export interface VideoStreamInfo {
  width: number;
  height: number;
  /** Stream time base as [num, den]. */
  timeBase: [number, number];
  /** Average frame rate as [num, den]. */
  frameRate: [number, number];
  /** First presentation timestamp, time-base units. */
  startPts: number;
}

function ratio(field: string, s: unknown): [number, number] {
  const m = typeof s === 'string' ? /^(\d+)\/(\d+)$/.exec(s) : null;
  const r: [number, number] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!(r[0] > 0 && r[1] > 0)) throw new AlpamayoError(`video: ${field} is ${JSON.stringify(s)}, not a positive ratio`, 'INVALID_INPUT', { field: `video.${field}`, expected: 'a positive ratio', actual: s });
  return r;
}

/** Reads the first video stream's geometry and timing with ffprobe. @internal */
export async function probeVideo(path: string): Promise<VideoStreamInfo> {
  const out = await runTool(
    ffmpegTools().ffprobe,
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,time_base,avg_frame_rate,start_pts', '-of', 'json', path],
    'video',
  );
  const s = (JSON.parse(out.toString('utf8')) as { streams?: Record<string, unknown>[] }).streams?.[0];
  if (!s) throw new AlpamayoError('video: no video stream', 'INVALID_INPUT', { field: 'video' });
  const width = Number(s.width);
  const height = Number(s.height);
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new AlpamayoError(`video: bad frame size ${s.width}x${s.height}`, 'INVALID_INPUT', { field: 'video.size' });
  }
  return { width, height, timeBase: ratio('time_base', s.time_base), frameRate: ratio('avg_frame_rate', s.avg_frame_rate), startPts: Number(s.start_pts ?? 0) || 0 };
}

/**
 * Index of the frame at or before each requested time (searchsorted right - 1), with the official range
 * check: every request must lie within [first, last] frame timestamp. @internal
 */
export function frameIndicesAt(frameTimestampsUs: readonly number[], requestedUs: readonly number[]): number[] {
  const n = frameTimestampsUs.length;
  for (let i = 1; i < n; i++) {
    if (!((frameTimestampsUs[i] as number) > (frameTimestampsUs[i - 1] as number))) {
      throw new AlpamayoError(`video: frame timestamps must be strictly increasing (frame ${i})`, 'INVALID_INPUT', { field: 'frame_timestamps', expected: 'strictly increasing', actual: frameTimestampsUs[i] });
    }
  }
  const first = frameTimestampsUs[0];
  const last = frameTimestampsUs[n - 1];
  return requestedUs.map((t) => {
    if (first === undefined || last === undefined || t < first || t > last) {
      throw new AlpamayoError(`video: requested time ${t} us is outside the frames [${first}, ${last}] us`, 'INVALID_INPUT', {
        field: 't0Us',
        expected: `frame times within [${first}, ${last}] us`,
        actual: t,
      });
    }
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((frameTimestampsUs[mid] as number) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  });
}

/**
 * Decodes frames by index (in presentation order, constant frame rate) to RGB24 at full size.
 * @returns one `width * height * 3` buffer per entry of `indices`, in that order.
 * @internal
 */
export async function decodeFrames(path: string, info: VideoStreamInfo, indices: readonly number[]): Promise<Uint8Array[]> {
  const unique = [...new Set(indices)].sort((a, b) => a - b);
  if (unique.length === 0) return [];
  // pts_per_frame = int(1 / fps / time_base), as PyAV's reader computes it (integer part).
  const [tbNum, tbDen] = info.timeBase;
  const [fpsNum, fpsDen] = info.frameRate;
  const ppf = Math.floor((fpsDen * tbDen) / (fpsNum * tbNum));
  if (!(ppf >= 1)) throw new AlpamayoError(`video: frame duration below one time-base unit (${fpsNum}/${fpsDen} fps, time base ${tbNum}/${tbDen})`, 'INVALID_INPUT', { field: 'video.time_base' });
  // Seek (to the key frame before) one frame ahead of the first wanted frame; -copyts keeps the stream's
  // own pts so frames are matched exactly as PyAV matches them; -frames:v stops decoding at the last one.
  const seekPts = info.startPts + ppf * (unique[0]! - 1);
  const seekSeconds = (seekPts * tbNum) / tbDen;
  const pick = unique.map((i) => `eq(round(pts/${ppf})\\,${i})`).join('+');
  const args = ['-v', 'error', '-nostdin', '-threads', '1', '-copyts'];
  if (seekSeconds > 0) args.push('-ss', seekSeconds.toFixed(6));
  args.push('-i', path, '-vf', `select='${pick}'`, '-fps_mode', 'passthrough', '-frames:v', String(unique.length), '-sws_flags', 'bilinear', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1');
  const raw = await runTool(ffmpegTools().ffmpeg, args, 'video');
  const size = info.width * info.height * 3;
  if (raw.length !== size * unique.length) {
    throw new AlpamayoError(`video: frames ${unique.join(', ')} requested, ${raw.length / size} decoded`, 'INVALID_INPUT', {
      field: 'video',
      expected: unique.length,
      actual: raw.length / size,
    });
  }
  const byIndex = new Map(unique.map((i, k) => [i, new Uint8Array(raw.buffer, raw.byteOffset + k * size, size)]));
  return indices.map((i) => byIndex.get(i)!);
}

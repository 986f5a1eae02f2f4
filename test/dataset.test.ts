// PhysicalAI-AV reader pieces without Python: the spline, slerp, templates, frame lookup and the reader's
// errors. (Exact agreement with the official code path is datasetParity.test.ts.)
import t from 'tap';
import { createWriteStream, renameSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { CubicSpline } from '../lib/dataset/cubicSpline.js';
import { trajectoryTimes } from '../lib/dataset/egoTrajectory.js';
import { PhysicalAIAVDataset } from '../lib/dataset/PhysicalAIAVDataset.js';
import { PoseInterpolator } from '../lib/dataset/poseInterpolator.js';
import { pythonFormat } from '../lib/dataset/pythonFormat.js';
import { frameIndicesAt } from '../lib/dataset/videoFrames.js';
import { ZipArchive } from '../lib/dataset/zipArchive.js';
import { makeClips, noBuiltCli } from './fixtures/syntheticClips.js';

t.test('not-a-knot spline reproduces a cubic exactly and does not extrapolate', async (t) => {
  const x = Float64Array.from([0, 0.7, 1.1, 2.5, 3, 4.2, 6]);
  const f = (v: number): number => 2 - 3 * v + 0.5 * v * v - 0.25 * v * v * v;
  const g = (v: number): number => 1 + v * v * v;
  const y = new Float64Array(2 * x.length);
  x.forEach((v, i) => y.set([f(v), g(v)], 2 * i));
  const s = new CubicSpline(x, y, 2);
  for (const v of [0, 0.3, 1.1, 2.9, 5.99, 6]) {
    const [a, b] = s.at(v);
    t.ok(Math.abs(a! - f(v)) < 1e-12 && Math.abs(b! - g(v)) < 1e-12, `exact at ${v}`);
  }
  t.ok(s.at(-1e-9).every(Number.isNaN) && s.at(6.0001).every(Number.isNaN), 'NaN outside the knots');
  t.throws(() => new CubicSpline(Float64Array.from([0, 1, 2]), new Float64Array(3), 1), { code: 'INVALID_INPUT' });
  t.throws(() => new CubicSpline(Float64Array.from([0, 1, 1, 2]), new Float64Array(4), 1), { code: 'INVALID_INPUT', field: 'egomotion.timestamp' });
});

t.test('poses: knots returned as given, slerp between them, no extrapolation', async (t) => {
  // Yaw 0, 0.2, 0.6, 1.0 rad about z at t = 1000, 1100, 1300, 1500 us; straight line in x.
  const ts = [1000, 1100, 1300, 1500];
  const yaw = [0, 0.2, 0.6, 1.0];
  const q = new Float64Array(16);
  yaw.forEach((a, i) => q.set([0, 0, Math.sin(a / 2), Math.cos(a / 2)], 4 * i));
  const p = Float64Array.from(ts.flatMap((v) => [v / 100, 0, 0]));
  const interp = new PoseInterpolator(ts, p, q);
  t.same(interp.timeRangeUs, [1000, 1500]);
  const r = interp.at([1100, 1200, 1450]);
  t.ok(Math.abs(r.positions[0]! - 11) < 1e-12 && Math.abs(r.positions[3]! - 12) < 1e-12, 'linear motion interpolated exactly');
  const angle = (k: number): number => 2 * Math.atan2(r.quaternions[4 * k + 2]!, r.quaternions[4 * k + 3]!);
  t.ok(Math.abs(angle(0) - 0.2) < 1e-12, 'at a knot: that knot');
  t.ok(Math.abs(angle(1) - 0.4) < 1e-12, 'halfway: half the relative rotation');
  t.ok(Math.abs(angle(2) - 0.9) < 1e-12);
  t.throws(() => interp.at([999]), { code: 'INVALID_INPUT', field: 't0Us' });
  t.throws(() => interp.at([1501]), /outside the samples \[1000, 1500\]/);
});

t.test('trajectory times, file templates and frame lookup', async (t) => {
  const { history, future } = trajectoryTimes(5_100_000);
  t.same([history[0], history[15], future[0], future[63]], [3_600_000, 5_100_000, 5_200_000, 11_500_000]);
  t.throws(() => trajectoryTimes(1_600_000), { code: 'INVALID_INPUT', field: 't0Us' });
  t.equal(pythonFormat('labels/egomotion/egomotion.chunk_{chunk_id:04d}.zip', { chunk_id: 7 }), 'labels/egomotion/egomotion.chunk_0007.zip');
  t.equal(pythonFormat('{clip_id}.camera_front_wide_120fov.mp4', { clip_id: 'ab-1' }), 'ab-1.camera_front_wide_120fov.mp4');
  t.throws(() => pythonFormat('{clip}.mp4', { clip_id: 'x' }), { code: 'INVALID_INPUT' });
  // At or before: an exact hit is that frame; between frames, the earlier one.
  t.same(frameIndicesAt([10, 20, 30, 40], [10, 19, 20, 39, 40]), [0, 0, 1, 2, 3]);
  t.throws(() => frameIndicesAt([10, 20, 30], [9]), { code: 'INVALID_INPUT' });
  t.throws(() => frameIndicesAt([10, 20, 30], [31]), /outside the frames \[10, 30\]/);
  t.throws(() => frameIndicesAt([10, 20, 20], [15]), /strictly increasing/);
});

t.test('reader on synthetic clips: shapes and errors', { skip: noBuiltCli }, async (t) => {
  const data = join(t.testdir(), 'data');
  makeClips(data, '--count', '2', '--seed', '3', '--width', '64', '--height', '64', '--duration', '12');
  await using ds = await PhysicalAIAVDataset.open(data);
  t.equal(ds.clipIds.length, 2);
  t.same(ds.features.get('egomotion')?.clipFilesInZip, { egomotion: '{clip_id}.egomotion.parquet' });
  const s = await ds.loadSample(ds.clipIds[1]!);
  t.equal(s.t0Us, 5_100_000);
  for (const cam of ['front_wide', 'front_tele', 'cross_left', 'cross_right'] as const) {
    t.equal(s.frames[cam].length, 4);
    for (const f of s.frames[cam]) t.ok(f.width === 64 && f.height === 64 && f.data.length === 64 * 64 * 3);
    // Frames at or before t0-0.3 ... t0 at 30 fps (timestamps jittered by < 1 ms, start offset < 5 ms).
    const ts = s.frames[cam].map((f) => f.timestampUs);
    t.ok(ts.every((v, i) => v <= 4_800_000 + 100_000 * i && v > 4_800_000 + 100_000 * i - 40_000), `${cam}: ${ts}`);
  }
  t.equal(s.egoHistory.length, 16);
  t.same(Array.from(s.egoHistory[15]!.position), [0, 0, 0], 'history ends at the t0 origin');
  t.equal(s.groundTruth.positions.length, 192);
  t.equal(s.groundTruth.timestamps[63], 6.4);
  // A video deflated inside its zip (not how the dataset stores them) goes through a temporary file: same frames.
  const zipPath = join(data, 'camera/camera_front_tele_30fov/camera_front_tele_30fov.chunk_0000.zip');
  const src = await ZipArchive.open(zipPath);
  const members: [string, Buffer][] = [];
  for (const name of src.names()) members.push([name, await src.read(name)]);
  src.close();
  const out = new yazl.ZipFile();
  for (const [name, buf] of members) out.addBuffer(buf, name, { compress: true });
  out.end();
  await pipeline(out.outputStream, createWriteStream(zipPath + '.tmp'));
  renameSync(zipPath + '.tmp', zipPath);
  await using fresh = await PhysicalAIAVDataset.open(data);
  const deflated = await fresh.loadSample(ds.clipIds[1]!);
  t.ok(deflated.frames.front_tele.every((f, i) => Buffer.from(f.data).equals(s.frames.front_tele[i]!.data)), 'same frames from a deflated member');
  await t.rejects(ds.loadSample('nope'), { code: 'INVALID_INPUT', field: 'clipId' });
  await t.rejects(ds.loadSample(ds.clipIds[0]!, { t0Us: 6_000_000 }), /pose time 12100000 us is outside the samples \[0, 12000000\]/);
  await t.rejects(PhysicalAIAVDataset.open(join(data, 'missing')), { code: 'INVALID_INPUT', field: 'features.csv' });
});

// The reader against an independent Python reference of NVlabs/physical_ai_av + the official
// load_physical_aiavdataset (test/fixtures/physical_ai_av_reference.py: pandas, zipfile, scipy
// CubicSpline/Slerp/RigidTransform, PyAV), on synthetic clips: frames byte-identical, poses to 1e-9.
// Runs whenever ALPAMAYO_PYTHON points at a Python with av, pandas, pyarrow and scipy.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PhysicalAIAVDataset } from '../lib/dataset/PhysicalAIAVDataset.js';
import { DATASET_CAMERA_FEATURES } from '../lib/dataset/types.js';
import { MODEL_CAMERA_ORDER } from '../lib/types.js';
import { makeClips, noBuiltCli } from './fixtures/syntheticClips.js';

const python = process.env.ALPAMAYO_PYTHON;
const probe = python ? spawnSync(python, ['-c', 'import av, pandas, pyarrow, scipy.spatial.transform as s; s.RigidTransform'], { encoding: 'utf8' }) : undefined;
const skip = noBuiltCli || (!python ? 'ALPAMAYO_PYTHON is not set' : probe?.status !== 0 ? `ALPAMAYO_PYTHON lacks av/pandas/pyarrow/scipy>=1.16: ${probe?.stderr.trim().split('\n').pop()}` : false);

interface Reference {
  t0Us: number;
  historyTimestampsUs: number[];
  futureTimestampsUs: number[];
  historyXyz: number[];
  historyRot: number[];
  futureXyz: number[];
  futureRot: number[];
  cameras: Record<string, { timestampsUs: number[]; frameIndices: number[]; width: number; height: number }>;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

t.test('reader output equals the physical_ai_av reference', { skip }, async (t) => {
  const dir = t.testdir();
  const data = join(dir, 'data');
  // Two chunks; 3 t0 values: the loader default, an early one and the latest the 13 s clips allow.
  makeClips(data, '--count', '2', '--seed', '7', '--width', '96', '--height', '64', '--clips-per-chunk', '1');
  await using ds = await PhysicalAIAVDataset.open(data);
  const ids = ds.clipIds;
  t.equal(ids.length, 2);
  const cases = ids.flatMap((id) => [5_100_000, 1_700_001, 6_550_000].map((t0Us) => ({ id, t0Us })));
  const ref = join(dir, 'ref');
  const r = spawnSync(python!, ['test/fixtures/physical_ai_av_reference.py', data, ref, ...cases.map((c) => `${c.id}:${c.t0Us}`)], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  for (const { id, t0Us } of cases) {
    const want = JSON.parse(readFileSync(join(ref, `${id}.${t0Us}.json`), 'utf8')) as Reference;
    const got = await ds.loadSample(id, { t0Us });
    const name = `${id.slice(0, 8)} t0=${t0Us}`;
    t.same(got.egoHistory.map((p) => p.timestampUs), want.historyTimestampsUs, `${name}: history times`);
    t.same(got.futureTimestampsUs, want.futureTimestampsUs, `${name}: future times`);
    const hx = got.egoHistory.flatMap((p) => Array.from(p.position));
    const hr = got.egoHistory.flatMap((p) => Array.from(p.rotation));
    const diffs = {
      historyXyz: maxAbsDiff(hx, want.historyXyz),
      historyRot: maxAbsDiff(hr, want.historyRot),
      futureXyz: maxAbsDiff(got.groundTruth.positions, want.futureXyz),
      futureRot: maxAbsDiff(got.groundTruth.rotations, want.futureRot),
    };
    for (const [k, d] of Object.entries(diffs)) t.ok(d <= 1e-9, `${name}: ${k} within 1e-9 (max diff ${d.toExponential(2)})`);
    // The official loader hands float32 tensors to the model: the same float32 values.
    t.same(Array.from(Float32Array.from(got.groundTruth.positions)), Array.from(Float32Array.from(want.futureXyz)), `${name}: float32 ground truth identical`);
    // A real trajectory, not zeros: the car moves forward several metres in 6.4 s.
    t.ok((got.groundTruth.positions[3 * 63] as number) > 10, `${name}: ground truth moves forward`);
    for (const cam of MODEL_CAMERA_ORDER) {
      const feature = DATASET_CAMERA_FEATURES[cam];
      const w = want.cameras[feature]!;
      t.same(got.frameIndices[cam], w.frameIndices, `${name} ${cam}: frame indices`);
      t.same(got.frames[cam].map((f) => f.timestampUs), w.timestampsUs, `${name} ${cam}: frame timestamps`);
      const bytes = Buffer.concat(got.frames[cam].map((f) => f.data));
      t.equal(got.frames[cam][0]!.width, w.width);
      t.equal(got.frames[cam][0]!.height, w.height);
      t.ok(bytes.equals(readFileSync(join(ref, `${id}.${t0Us}.${feature}.rgb`))), `${name} ${cam}: RGB bytes identical`);
    }
  }
});

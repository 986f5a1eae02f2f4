import t from 'tap';
import { toNavPath, toQuaternion } from '../lib/ros.js';
import { rotZ } from './fixtures/inputs.js';

const S45 = Math.SQRT1_2;

function near(t: Tap, q: { x: number; y: number; z: number; w: number }, want: [number, number, number, number], msg: string): void {
  const got = [q.x, q.y, q.z, q.w];
  t.ok(got.every((v, i) => Math.abs(v - want[i]!) < 1e-12), `${msg}: got ${got.join(', ')}, want ${want.join(', ')}`);
}
type Tap = typeof t;

// Quaternion (x,y,z,w) -> row-major matrix, the textbook formula, for round-trip checks.
function toMatrix(q: { x: number; y: number; z: number; w: number }): number[] {
  const { x, y, z, w } = q;
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
    2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
    2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
  ];
}

t.test('hand-computed quaternions', async (t) => {
  near(t, toQuaternion([1, 0, 0, 0, 1, 0, 0, 0, 1]), [0, 0, 0, 1], 'identity');
  near(t, toQuaternion([0, -1, 0, 1, 0, 0, 0, 0, 1]), [0, 0, S45, S45], '90° yaw');
  near(t, toQuaternion([0, 1, 0, -1, 0, 0, 0, 0, 1]), [0, 0, -S45, S45], '-90° yaw keeps w >= 0');
  near(t, toQuaternion(rotZ((3 * Math.PI) / 2)), [0, 0, -S45, S45], '270° yaw = -90° yaw');
  near(t, toQuaternion([1, 0, 0, 0, -1, 0, 0, 0, -1]), [1, 0, 0, 0], '180° about x');
  near(t, toQuaternion([-1, 0, 0, 0, 1, 0, 0, 0, -1]), [0, 1, 0, 0], '180° about y');
  near(t, toQuaternion([-1, 0, 0, 0, -1, 0, 0, 0, 1]), [0, 0, 1, 0], '180° about z');
  near(t, toQuaternion([0, 0, 1, 1, 0, 0, 0, 1, 0]), [0.5, 0.5, 0.5, 0.5], '120° about (1,1,1)/sqrt3');
  // 90° pitch: x -> -z.
  near(t, toQuaternion([0, 0, 1, 0, 1, 0, -1, 0, 0]), [0, S45, 0, S45], '90° about y');
  t.same(toQuaternion(Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1)), { x: 0, y: 0, z: 0, w: 1 }, 'typed array input, no -0');
});

t.test('round trip over rotations near every branch', async (t) => {
  // Rotation angles up to and including pi exercise the trace branch and all three diagonal branches.
  const axes = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 2, 3], [-3, 1, 0.5]];
  for (const a of axes) {
    const n = Math.hypot(a[0]!, a[1]!, a[2]!);
    for (const angle of [0.1, 1, 2.5, 3.1, Math.PI]) {
      const s = Math.sin(angle / 2);
      const q0 = { x: (a[0]! / n) * s, y: (a[1]! / n) * s, z: (a[2]! / n) * s, w: Math.cos(angle / 2) };
      const q = toQuaternion(toMatrix(q0));
      t.ok(q.w >= 0);
      t.ok(Math.abs(Math.hypot(q.x, q.y, q.z, q.w) - 1) < 1e-12);
      const m0 = toMatrix(q0);
      const m = toMatrix(q);
      t.ok(m.every((v, i) => Math.abs(v - m0[i]!) < 1e-12), `axis ${a} angle ${angle}`);
    }
  }
});

t.test('toQuaternion validates', async (t) => {
  t.throws(() => toQuaternion([1, 0, 0]), { code: 'INVALID_INPUT', field: 'rotation' });
  t.throws(() => toQuaternion([1, 0, 0, 0, NaN, 0, 0, 0, 1]), { code: 'INVALID_INPUT', field: 'rotation[4]' });
});

function fakeResult(t0Us: number) {
  const n = 64;
  const positions = new Float64Array(n * 3);
  const rotations = new Float64Array(n * 9);
  const timestamps = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    positions.set([k + 1, 0.5 * k, 0.01], 3 * k);
    rotations.set(rotZ(k === 10 ? Math.PI / 2 : 0), 9 * k);
    timestamps[k] = 0.1 * (k + 1);
  }
  const waypoints = { positions, rotations, timestamps };
  const other = { positions: positions.map((v) => -v), rotations, timestamps };
  return { waypoints, t0Us, samples: [{ waypoints }, { waypoints: other }] };
}

t.test('toNavPath shapes a nav_msgs/Path with t0-based stamps', async (t) => {
  const path = toNavPath(fakeResult(1_700_000_000_123_456), 'base_link');
  t.same(path.header, { stamp: { sec: 1_700_000_000, nanosec: 123_456_000 }, frame_id: 'base_link' });
  t.equal(path.poses.length, 64);
  t.same(path.poses[0]!.header, { stamp: { sec: 1_700_000_000, nanosec: 223_456_000 }, frame_id: 'base_link' });
  // 0.123456 + 6.4 s carries into the next seconds.
  t.same(path.poses[63]!.header.stamp, { sec: 1_700_000_006, nanosec: 523_456_000 });
  // 0.123456 + 0.9 = 1.023456 s.
  t.same(path.poses[8]!.header.stamp, { sec: 1_700_000_001, nanosec: 23_456_000 });
  t.same(path.poses[3]!.pose.position, { x: 4, y: 1.5, z: 0.01 });
  t.same(path.poses[10]!.pose.orientation, toQuaternion(rotZ(Math.PI / 2)));
  t.ok(Math.abs(path.poses[10]!.pose.orientation.z - S45) < 1e-12);
  t.same(path.poses[11]!.pose.orientation, { x: 0, y: 0, z: 0, w: 1 });
  const second = toNavPath(fakeResult(0), 'map', { sample: 1 });
  t.same(second.poses[3]!.pose.position, { x: -4, y: -1.5, z: -0.01 });
  t.same(second.header.stamp, { sec: 0, nanosec: 0 });
  t.throws(() => toNavPath(fakeResult(0), 'map', { sample: 2 }), { code: 'INVALID_INPUT', field: 'opts.sample' });
});

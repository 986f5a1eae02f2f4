// Unit quaternions stored (x, y, z, w) as scipy.spatial.transform.Rotation stores them, with the same
// formulas (rotation-vector maps with the same small-angle series) so that slerp and frame changes agree
// with physical_ai_av + the official loader to ~1e-15.

/** A unit quaternion, scalar last. @internal */
export type Quat = [number, number, number, number];

/** Normalized copy (scipy normalizes on construction). @internal */
export function normalize(q: ArrayLike<number>): Quat {
  const [x, y, z, w] = [q[0] as number, q[1] as number, q[2] as number, q[3] as number];
  const n = Math.sqrt(x * x + y * y + z * z + w * w);
  return [x / n, y / n, z / n, w / n];
}

/** p * q: apply q, then p. @internal */
export function multiply(p: Quat, q: Quat): Quat {
  const [px, py, pz, pw] = p;
  const [qx, qy, qz, qw] = q;
  return [
    pw * qx + qw * px + (py * qz - pz * qy),
    pw * qy + qw * py + (pz * qx - px * qz),
    pw * qz + qw * pz + (px * qy - py * qx),
    pw * qw - (px * qx + py * qy + pz * qz),
  ];
}

/** Inverse of a unit quaternion. @internal */
export function inverse(q: Quat): Quat {
  return [-q[0], -q[1], -q[2], q[3]];
}

/** Rotation vector (axis * angle), angle in [0, pi]. @internal */
export function toRotvec(q: Quat): [number, number, number] {
  const s = q[3] < 0 ? -1 : 1;
  const [x, y, z, w] = [s * q[0], s * q[1], s * q[2], s * q[3]];
  const angle = 2 * Math.atan2(Math.hypot(x, y, z), w);
  const a2 = angle * angle;
  const scale = angle <= 1e-3 ? 2 + a2 / 12 + (7 * a2 * a2) / 2880 : angle / Math.sin(angle / 2);
  return [scale * x, scale * y, scale * z];
}

/** Quaternion of a rotation vector. @internal */
export function fromRotvec(v: readonly [number, number, number]): Quat {
  const angle = Math.hypot(v[0], v[1], v[2]);
  const a2 = angle * angle;
  const scale = angle <= 1e-3 ? 0.5 - a2 / 48 + (a2 * a2) / 3840 : Math.sin(angle / 2) / angle;
  return [scale * v[0], scale * v[1], scale * v[2], Math.cos(angle / 2)];
}

/** 3x3 rotation matrix, row-major, written at `out[offset..offset+9)`. @internal */
export function toMatrix(q: Quat, out: Float64Array, offset = 0): void {
  const [x, y, z, w] = q;
  const x2 = x * x;
  const y2 = y * y;
  const z2 = z * z;
  const w2 = w * w;
  const xy = x * y;
  const zw = z * w;
  const xz = x * z;
  const yw = y * w;
  const yz = y * z;
  const xw = x * w;
  out[offset] = x2 - y2 - z2 + w2;
  out[offset + 1] = 2 * (xy - zw);
  out[offset + 2] = 2 * (xz + yw);
  out[offset + 3] = 2 * (xy + zw);
  out[offset + 4] = -x2 + y2 - z2 + w2;
  out[offset + 5] = 2 * (yz - xw);
  out[offset + 6] = 2 * (xz - yw);
  out[offset + 7] = 2 * (yz + xw);
  out[offset + 8] = -x2 - y2 + z2 + w2;
}

/** R(q) v. @internal */
export function rotate(q: Quat, v: readonly [number, number, number]): [number, number, number] {
  const m = new Float64Array(9);
  toMatrix(q, m);
  return [
    m[0]! * v[0] + m[1]! * v[1] + m[2]! * v[2],
    m[3]! * v[0] + m[4]! * v[1] + m[5]! * v[2],
    m[6]! * v[0] + m[7]! * v[1] + m[8]! * v[2],
  ];
}

// Dependency-free helpers that shape results like ROS 2 messages (rclnodejs publishes plain objects).
import { AlpamayoError } from './AlpamayoError.js';
import type { Waypoints } from './types.js';
import { checkFiniteVector, checkInteger, invalidInput } from './validateCommon.js';

/** geometry_msgs/Quaternion field order: x, y, z, w. */
export interface Quaternion {
  x: number;
  y: number;
  z: number;
  w: number;
}

/** builtin_interfaces/Time. */
export interface RosTime {
  sec: number;
  nanosec: number;
}

/** std_msgs/Header. */
export interface RosHeader {
  stamp: RosTime;
  frame_id: string;
}

/** geometry_msgs/PoseStamped. */
export interface RosPoseStamped {
  header: RosHeader;
  pose: { position: { x: number; y: number; z: number }; orientation: Quaternion };
}

/** nav_msgs/Path. */
export interface RosPath {
  header: RosHeader;
  poses: RosPoseStamped[];
}

/**
 * Unit quaternion (x, y, z, w) of a row-major 3x3 rotation, by Shepperd's method (branch on the largest
 * of trace and diagonal, so no division by a small number), with w >= 0.
 * @example toQuaternion([0,-1,0, 1,0,0, 0,0,1]) // 90° yaw -> { x: 0, y: 0, z: 0.7071, w: 0.7071 }
 */
export function toQuaternion(rotation: ArrayLike<number>): Quaternion {
  const r = checkFiniteVector('rotation', rotation, 9);
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = r as [number, number, number, number, number, number, number, number, number];
  const trace = m00 + m11 + m22;
  let x: number;
  let y: number;
  let z: number;
  let w: number;
  if (trace >= m00 && trace >= m11 && trace >= m22) {
    const s = 2 * Math.sqrt(1 + trace);
    w = s / 4;
    x = (m21 - m12) / s;
    y = (m02 - m20) / s;
    z = (m10 - m01) / s;
  } else if (m00 >= m11 && m00 >= m22) {
    const s = 2 * Math.sqrt(1 + m00 - m11 - m22);
    x = s / 4;
    w = (m21 - m12) / s;
    y = (m01 + m10) / s;
    z = (m02 + m20) / s;
  } else if (m11 >= m22) {
    const s = 2 * Math.sqrt(1 - m00 + m11 - m22);
    y = s / 4;
    w = (m02 - m20) / s;
    x = (m01 + m10) / s;
    z = (m12 + m21) / s;
  } else {
    const s = 2 * Math.sqrt(1 - m00 - m11 + m22);
    z = s / 4;
    w = (m10 - m01) / s;
    x = (m02 + m20) / s;
    y = (m12 + m21) / s;
  }
  const sign = w < 0 ? -1 : 1;
  const norm = sign * Math.hypot(x, y, z, w);
  // `+ 0` turns -0 into 0 so identity-like rotations compare equal to literal zeros.
  return { x: x / norm + 0, y: y / norm + 0, z: z / norm + 0, w: w / norm + 0 };
}

/** Splits microseconds + a seconds offset into ROS time without losing nanoseconds to float rounding. */
function rosTime(us: number, offsetSeconds: number): RosTime {
  const baseSec = Math.floor(us / 1e6);
  let ns = Math.round((us - baseSec * 1e6) * 1e3 + offsetSeconds * 1e9);
  const carry = Math.floor(ns / 1e9);
  ns -= carry * 1e9;
  return { sec: baseSec + carry, nanosec: ns };
}

/** Options of {@link toNavPath}. */
export interface NavPathOptions {
  /** Which sample of a multi-sample result to convert. Default 0 (= `result.waypoints`). */
  sample?: number;
}

/**
 * A nav_msgs/Path-shaped plain object for rclnodejs (`publisher.publish(toNavPath(r, 'base_link'))`).
 * Path stamp = t0 (`result.t0Us`); pose k stamp = t0 + `timestamps[k]`. Poses are in the t0 ego frame,
 * so `frameId` should name that frame (e.g. the vehicle frame at t0).
 */
export function toNavPath(
  result: { waypoints: Waypoints; t0Us: number; samples?: readonly { waypoints: Waypoints }[] },
  frameId: string,
  opts: NavPathOptions = {},
): RosPath {
  if (typeof frameId !== 'string') throw invalidInput('frameId', 'a string', frameId);
  if (typeof result?.t0Us !== 'number' || !Number.isFinite(result.t0Us)) throw invalidInput('result.t0Us', 'a finite number (microseconds)', result?.t0Us);
  let waypoints = result.waypoints;
  if (opts.sample !== undefined) {
    const count = result.samples?.length ?? 1;
    const k = checkInteger('opts.sample', opts.sample, 0, count - 1);
    waypoints = result.samples?.[k]?.waypoints ?? result.waypoints;
  }
  const { positions, rotations, timestamps } = waypoints;
  const n = timestamps.length;
  if (positions.length !== n * 3 || rotations.length !== n * 9) {
    throw new AlpamayoError(
      `result.waypoints: expected positions ${n}*3 and rotations ${n}*9 values, got ${positions.length} and ${rotations.length}`,
      'INVALID_INPUT',
      { field: 'result.waypoints', expected: [n * 3, n * 9], actual: [positions.length, rotations.length] },
    );
  }
  const poses: RosPoseStamped[] = [];
  for (let k = 0; k < n; k++) {
    poses.push({
      header: { stamp: rosTime(result.t0Us, timestamps[k] as number), frame_id: frameId },
      pose: {
        position: { x: positions[3 * k] as number, y: positions[3 * k + 1] as number, z: positions[3 * k + 2] as number },
        orientation: toQuaternion(rotations.subarray(9 * k, 9 * k + 9)),
      },
    });
  }
  return { header: { stamp: rosTime(result.t0Us, 0), frame_id: frameId }, poses };
}

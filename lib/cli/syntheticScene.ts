// Synthetic inputs for the demo and smoke tests: no camera data ships with the package.
import type { EgoPose, Frame, Frames } from '../types.js';
import { MODEL_CAMERA_ORDER } from '../types.js';

/**
 * 4 frames for each camera: a sky/road gradient with a dark "vehicle" box that moves between frames,
 * tinted per camera so the cameras differ. Timestamps t0-0.3 ... t0 s.
 */
export function syntheticFrames(t0Us: number, width = 576, height = 320): Frames {
  const out: Partial<Record<(typeof MODEL_CAMERA_ORDER)[number], Frame[]>> = {};
  MODEL_CAMERA_ORDER.forEach((camera, c) => {
    out[camera] = [0, 1, 2, 3].map((i) => {
      const data = new Uint8Array(width * height * 3);
      const horizon = Math.floor(height * 0.45);
      const boxX = Math.floor(width * (0.4 + 0.03 * i)) + c * 7;
      const boxY = horizon + Math.floor(height * 0.1);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const o = 3 * (y * width + x);
          const sky = y < horizon;
          let r = sky ? 110 + (y * 80) / horizon : 70 + ((y - horizon) * 60) / (height - horizon);
          let g = sky ? 150 + (y * 60) / horizon : 70 + ((y - horizon) * 50) / (height - horizon);
          let b = sky ? 230 : 75;
          // Lane markings converge to the vanishing point at the image centre.
          if (!sky && Math.abs(x - width / 2) < 2 + ((y - horizon) * 0.02) && ((y >> 3) & 1) === 0) r = g = b = 240;
          if (x >= boxX && x < boxX + width / 10 && y >= boxY && y < boxY + height / 8) {
            r = 30;
            g = 30;
            b = 40;
          }
          data[o] = Math.min(255, r + c * 10);
          data[o + 1] = g;
          data[o + 2] = Math.max(0, b - c * 10);
        }
      }
      return { data, width, height, timestampUs: t0Us - (3 - i) * 100_000 };
    });
  });
  return out as Frames;
}

/** 16 poses at 10 Hz on a circular arc (constant speed and yaw rate) ending at t0, world frame = start pose. */
export function curvedEgoHistory(t0Us: number, speed = 8, yawRate = 0.15): EgoPose[] {
  return Array.from({ length: 16 }, (_, i) => {
    const t = i * 0.1;
    const yaw = yawRate * t;
    const x = yawRate === 0 ? speed * t : (speed / yawRate) * Math.sin(yaw);
    const y = yawRate === 0 ? 0 : (speed / yawRate) * (1 - Math.cos(yaw));
    const c = Math.cos(yaw);
    const s = Math.sin(yaw);
    return { timestampUs: t0Us - (15 - i) * 100_000, position: [x, y, 0], rotation: [c, -s, 0, s, c, 0, 0, 0, 1] };
  });
}

import t from 'tap';
import { curvedEgoHistory, syntheticFrames } from '../lib/cli/syntheticScene.js';
import { trajectorySvg } from '../lib/cli/trajectorySvg.js';
import { packEgoHistory, validateEgoHistory } from '../lib/validateEgoHistory.js';
import { validateFrames } from '../lib/validateFrames.js';

t.test('synthetic scene is valid planner input', async (t) => {
  const frames = syntheticFrames(5_000_000, 96, 64);
  t.equal(validateFrames(frames).length, 16);
  t.equal(frames.front_wide[3]!.timestampUs, 5_000_000);
  t.equal(frames.front_wide[0]!.timestampUs, 4_700_000);
  t.not(frames.front_wide[0]!.data[0], frames.front_tele[0]!.data[0], 'cameras are tinted differently');
});

t.test('curved history in the t0 frame matches the closed-form arc', async (t) => {
  const v = 8;
  const w = 0.15;
  const packed = packEgoHistory(validateEgoHistory(curvedEgoHistory(0, v, w)));
  // Left turn: centre of curvature at (0, R) in the t0 frame; the pose dt earlier is at angle -w*dt on it.
  const R = v / w;
  for (const i of [0, 5, 14]) {
    const theta = w * (15 - i) * 0.1;
    t.ok(Math.abs(packed[i * 13 + 1]! - -R * Math.sin(theta)) < 1e-9, `x[${i}]`);
    t.ok(Math.abs(packed[i * 13 + 2]! - R * (1 - Math.cos(theta))) < 1e-9, `y[${i}]`);
    // Heading relative to t0 is -theta: r10 = sin(-theta).
    t.ok(Math.abs(packed[i * 13 + 4 + 3]! - Math.sin(-theta)) < 1e-9, `yaw[${i}]`);
  }
});

t.test('svg draws history plus one polyline per sample', async (t) => {
  const svg = trajectorySvg([[-2, 0], [-1, 0]], [[[1, 0], [2, 0.5]], [[1, 0], [2, -0.5]]]);
  t.match(svg, /^<svg /);
  t.equal(svg.match(/<polyline/g)?.length, 3);
  t.match(svg, /2 sampled path\(s\)/);
});

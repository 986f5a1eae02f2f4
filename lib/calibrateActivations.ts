// FP8 calibration on planner-shaped inputs: real plans (16 frames -> image tokens, the chat template,
// ego history, a command, reasoning tokens, the expert's Euler steps over every flow time) run on the
// CPU executor in fp32 while the native side records max |input| of every linear
// (native/export/activation_calibration.hpp). build-engines hands the result to the exporter.
import { curvedEgoHistory, syntheticFrames } from './cli/syntheticScene.js';
import { activationStatsOf, Planner } from './Planner.js';
import type { EgoPose, Frames } from './types.js';

/** One calibration plan: what `Planner.plan` takes. @internal */
export interface CalibrationScene {
  frames: Frames;
  egoHistory: EgoPose[];
  command?: string;
  /** Teacher-forced reasoning, so the decode steps see driving text whatever the weights sample. */
  reasoning: string;
  seed: number;
}

/** Per linear (keyed by weight name): max |input|, most input rows of one call, and calls. @internal */
export interface ActivationStats {
  amax: Record<string, number>;
  rows: Record<string, number>;
  calls: Record<string, number>;
}

/** Diffusion steps of a calibration plan: the planner's default, so the expert sees every flow time t = i/10. */
export const CALIBRATION_DIFFUSION_STEPS = 10;

const COMMANDS = [undefined, 'Turn left at the next intersection.', 'Keep the lane and follow the lead vehicle.', 'Prepare to stop at the crosswalk.'];
const REASONING = [
  'The ego vehicle is approaching an intersection with a green light; a vehicle ahead is slowing down, so I keep a safe distance and continue straight at a moderate speed.',
  'A pedestrian is waiting at the crosswalk on the right and the lead car is braking; I decelerate smoothly and prepare to yield before the stop line.',
  'The road curves to the left and the adjacent lane is clear; I follow the curve, keep the lane centre and hold the current speed.',
  'Traffic ahead is stopped at a red light; I slow down gradually to stop behind the last vehicle while keeping the lane.',
];

/**
 * `count` synthetic driving scenes at the cameras' real size (1920x1080, resized by the planner like
 * any camera frame): a road, lane markings and a moving vehicle per camera, curved ego histories of
 * different speeds and yaw rates, commands and reasoning texts. Deterministic in `count`.
 * @internal
 */
export function syntheticCalibrationScenes(count: number, width = 1920, height = 1080): CalibrationScene[] {
  return Array.from({ length: count }, (_, i) => {
    const t0Us = 5_100_000 + i * 1_000_000;
    const scene: CalibrationScene = {
      frames: syntheticFrames(t0Us, width, height),
      egoHistory: curvedEgoHistory(t0Us, 4 + 3 * i, i % 2 === 0 ? 0.12 * (i + 1) : -0.08 * i),
      reasoning: REASONING[i % REASONING.length] as string,
      seed: 1000 + i,
    };
    const command = COMMANDS[i % COMMANDS.length];
    if (command !== undefined) scene.command = command;
    return scene;
  });
}

/**
 * Plans every scene on the CPU executor (fp32) of `checkpoint` and returns what every linear saw.
 * @internal
 */
export async function calibrateActivations(
  checkpoint: string,
  scenes: readonly CalibrationScene[],
  onProgress: (message: string) => void = () => {},
): Promise<ActivationStats> {
  const planner = await Planner.load({ checkpoint, backend: 'cpu', precision: 'fp32' }, { calibrate: true });
  try {
    for (const [i, s] of scenes.entries()) {
      onProgress(`calibrating fp8 activation scales: plan ${i + 1}/${scenes.length} on the CPU executor`);
      const opts: Parameters<Planner['plan']>[2] = {
        seed: s.seed,
        samples: 1,
        diffusionSteps: CALIBRATION_DIFFUSION_STEPS,
        reasoningTokens: s.reasoning,
      };
      if (s.command !== undefined) opts.command = s.command;
      await planner.plan(s.frames, s.egoHistory, opts);
    }
    return await activationStatsOf(planner);
  } finally {
    await planner.dispose();
  }
}

// `npm run demo`: makes the tiny random-weight checkpoint if needed, plans on synthetic frames with
// 3 samples, prints reasoning, waypoints and timings, and writes demo.svg. Random weights mean the
// reasoning text and paths are noise: the demo shows the pipeline, not driving skill.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { formatPlan } from './formatPlan.js';
import { loadNative } from '../native.js';
import { Planner } from '../Planner.js';
import { curvedEgoHistory, syntheticFrames } from './syntheticScene.js';
import { writeTokenizerFiles } from '../tokenizerFiles.js';
import { trajectorySvg } from './trajectorySvg.js';
import { packEgoHistory, validateEgoHistory } from '../validateEgoHistory.js';

async function main(): Promise<void> {
  const dir = resolve('.cache', 'tiny');
  if (!existsSync(join(dir, 'config.json'))) {
    console.log(`creating tiny checkpoint in ${dir}`);
    const addon = loadNative();
    addon.makeCheckpoint(dir, 'tiny', 1);
    await writeTokenizerFiles(dir, addon.tokenLayout('tiny'));
  }
  const t0Us = 1_700_000_000_000_000;
  const egoHistory = curvedEgoHistory(t0Us);
  await using planner = await Planner.load({ checkpoint: dir, backend: 'cpu' });
  console.log(`backend ${planner.backend}, precision ${planner.precision}`);
  process.stdout.write('reasoning[0] (streamed): ');
  const r = await planner.plan(syntheticFrames(t0Us), egoHistory, { samples: 3, seed: 42, onToken: (t) => process.stdout.write(t) });
  console.log('\n');
  console.log(formatPlan(r));
  const packed = packEgoHistory(validateEgoHistory(egoHistory));
  const history = Array.from({ length: 16 }, (_, i) => [packed[i * 13 + 1], packed[i * 13 + 2]] as [number, number]);
  const paths = r.samples.map((s) => Array.from({ length: 64 }, (_, i) => [s.waypoints.positions[3 * i], s.waypoints.positions[3 * i + 1]] as [number, number]));
  await writeFile('demo.svg', trajectorySvg(history, paths));
  console.log('\nwrote demo.svg');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${(err as { code?: string }).code ?? ''} ${err.message}` : err);
  process.exitCode = 1;
});

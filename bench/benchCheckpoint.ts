// The checkpoint a bench script runs on: the one named on the command line, else .cache/<preset>, made with
// makeCheckpoint when missing. Says which, and exits with a message (not a stack trace) when a named one is missing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeCheckpoint } from '../lib/makeCheckpoint.js';

export async function benchCheckpoint(arg: string | undefined, preset: 'tiny' | 'small' = 'tiny'): Promise<string> {
  if (arg !== undefined) {
    if (!existsSync(join(arg, 'config.json'))) {
      console.error(`bench: ${arg} is not a checkpoint (no config.json). Make one with: npx alpamayo-trt make-checkpoint ${arg} --preset tiny`);
      process.exit(1);
    }
    console.log(`bench: checkpoint ${arg}`);
    return arg;
  }
  const dir = join('.cache', preset);
  if (existsSync(join(dir, 'config.json'))) {
    console.log(`bench: checkpoint ${dir} (found)`);
  } else {
    console.log(`bench: no checkpoint given; making the ${preset} one in ${dir} (seed 1)`);
    await makeCheckpoint(dir, { preset, seed: 1 });
  }
  return dir;
}

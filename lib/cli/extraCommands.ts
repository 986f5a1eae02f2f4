// Commands that parse their own flags, by name (registered in runCli.ts before the shared flag parser).
import { EVAL_USAGE, runEval, runWorker, WORKER_USAGE } from './evalCommand.js';
import { MAKE_CLIPS_USAGE, runMakeClips } from './makeClipsCommand.js';
import type { CliIo } from './runCli.js';

/** @internal */
export const EXTRA_COMMANDS: ReadonlyMap<string, (argv: readonly string[], io: CliIo) => Promise<number>> = new Map([
  ['eval', runEval],
  ['worker', runWorker],
  ['make-clips', runMakeClips],
]);

/** Usage lines of those commands, indented like the rest of the usage text. @internal */
export const EXTRA_USAGE = [EVAL_USAGE, WORKER_USAGE, MAKE_CLIPS_USAGE].map((u) => u.replace(/^/gm, '  ')).join('\n');

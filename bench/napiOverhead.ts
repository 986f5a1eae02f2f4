// Cost of crossing the binding: a no-op native call, JS-side validation alone, a plan that native
// rejects right after validation (full JS prep + N-API round trip, no model work), and a real tiny plan.
// node --import=@tapjs/typescript/import bench/napiOverhead.ts [checkpointDir] [iterations]
import { cpus, platform } from 'node:os';
import { buildPromptIds, HISTORY_TOKEN_COUNT } from '../lib/buildPrompt.js';
import { loadCheckpointTokenizer } from '../lib/loadCheckpointTokenizer.js';
import { loadNative } from '../lib/native.js';
import { Planner } from '../lib/Planner.js';
import { curvedEgoHistory, syntheticFrames } from '../lib/cli/syntheticScene.js';
import { validateEgoHistory } from '../lib/validateEgoHistory.js';
import { validateFrames } from '../lib/validateFrames.js';
import { validatePlanOptions } from '../lib/validatePlanOptions.js';

const dir = process.argv[2] ?? '.cache/tiny';
const N = Number(process.argv[3] ?? 200);
const t0Us = 1_700_000_000_000_000;
const frames = syntheticFrames(t0Us, 64, 64);
const history = curvedEgoHistory(t0Us);

async function time(label: string, n: number, fn: () => unknown): Promise<[string, number]> {
  for (let i = 0; i < Math.min(20, n); i++) await fn();
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return [label, ((performance.now() - t) / n) * 1000];
}

const addon = loadNative();
await using planner = await Planner.load({ checkpoint: dir, backend: 'cpu', threads: 1 });
const rows: [string, number][] = [];
rows.push(await time('backends() (no-op native call)', N * 50, () => addon.backends()));
rows.push(await time('JS validation only (frames, history, options)', N * 10, () => {
  validateFrames(frames);
  validateEgoHistory(history);
  validatePlanOptions({ seed: 1 });
}));
// The prompt: rendered and tokenized once per command, then only image-pad runs and history ids change.
const tok = await loadCheckpointTokenizer(dir);
const promptOpts = { imageTokenCounts: Array<number>(16).fill(180), historyIds: Array<number>(HISTORY_TOKEN_COUNT).fill(0) };
let miss = 0;
rows.push(await time('prompt ids, new command (template render + tokenize)', N, () =>
  buildPromptIds(tok, { ...promptOpts, command: `keep lane ${miss++}` })));
rows.push(await time('prompt ids, cached command', N * 10, () => buildPromptIds(tok, { ...promptOpts, command: 'keep lane' })));
// An out-of-vocabulary forced token is rejected after validation and prompt building, just before the
// native hand-off: the JS-side cost of a plan without any model work.
rows.push(await time('plan() rejected after validation + prompt build (no native job)', N, async () => {
  await planner.plan(frames, history, { reasoningTokens: [2 ** 31 - 1], seed: 1 }).catch(() => undefined);
}));
rows.push(await time('real plan() (2 tokens, 1 diffusion step)', Math.max(10, N / 10), () =>
  planner.plan(frames, history, { seed: 1, temperature: 0, maxReasoningTokens: 2, diffusionSteps: 1 })));
console.log(`${cpus()[0]?.model} x ${cpus().length}, ${platform()}, Node ${process.version}, checkpoint ${dir}`);
console.log('| call | µs per call |\n|---|---:|');
for (const [l, us] of rows) console.log(`| ${l} | ${us.toFixed(1)} |`);

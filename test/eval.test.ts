// Open-loop evaluation: the metrics, seeds, summary and results file; then `alpamayo-trt eval` end to end
// (built bin, real addon, tiny checkpoint, synthetic clips): lines, resume, determinism against the
// library's async iterator, clip selection and failures.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { clipMetrics } from '../lib/eval/clipMetrics.js';
import { clipSeed } from '../lib/eval/clipSeed.js';
import { readResultsFile } from '../lib/eval/resultsFile.js';
import { formatSummaryTable, quantile, summarizeResults } from '../lib/eval/summarizeResults.js';
import { ProgressBar, formatDuration } from '../lib/cli/progressBar.js';
import { realAddonSkip, REAL_ADDON } from './fixtures/parity/parityInputs.js';
import { CLI, makeClips, noBuiltCli } from './fixtures/syntheticClips.js';

function line(f: (i: number) => [number, number]): Float64Array {
  const p = new Float64Array(192);
  for (let i = 0; i < 64; i++) p.set([...f(i), 0], 3 * i);
  return p;
}

t.test('clipMetrics: k* by full-horizon ADE, ADE averaged over samples, FDE of k*', async (t) => {
  const gt = { positions: line((i) => [i + 1, 0]) };
  const a = line((i) => [i + 1, 1]); // 1 m off everywhere: ADE 1
  const b = line((i) => [i + 1, i < 10 ? 0.5 : 3]); // better early, worse overall: ADE (5 + 162) / 64
  const m = clipMetrics([b, a], gt);
  t.equal(m.bestSample, 1);
  t.same(m.minADE, { '0.5s': 1, '1s': 1, '3s': 1, '5s': 1, '6.4s': 1 }, 'the full-horizon best sample at every horizon, not a per-horizon min');
  t.equal(m.ADE['0.5s'], 0.75);
  t.equal(m.ADE['1s'], 0.75);
  t.equal(m.ADE['3s'], (1 + 65 / 30) / 2);
  t.equal(m.ADE['6.4s'], (1 + 167 / 64) / 2);
  t.same(m.FDE, { '0.5s': 1, '1s': 1, '3s': 1, '5s': 1, '6.4s': 1 });
  t.same(Object.keys(m.minADE), ['0.5s', '1s', '3s', '5s', '6.4s'], 'horizons in order');
});

t.test('summary: numpy-style quantiles and the table', async (t) => {
  t.equal(quantile([4, 1, 3, 2], 0.5), 2.5);
  t.equal(quantile([4, 1, 3, 2], 0.9), 3.7);
  t.equal(quantile([5], 0.9), 5);
  const h = (v: number): Record<'0.5s' | '1s' | '3s' | '5s' | '6.4s', number> => ({ '0.5s': v, '1s': v, '3s': v, '5s': v, '6.4s': v });
  const rows = summarizeResults([1, 2, 3, 10].map((v) => ({ minADE: h(v), ADE: h(2 * v), FDE: h(3 * v) })));
  t.equal(rows.length, 15);
  t.match(rows[4], { metric: 'minADE@6.4s', clips: 4, mean: 4, median: 2.5 });
  t.ok(Math.abs(rows[4]!.p90 - 7.9) < 1e-12, 'p90 interpolates between the 3rd and 4th value');
  t.equal(rows[9]!.mean, 8);
  const table = formatSummaryTable(rows);
  t.match(table, /^metric \(m\)\s+clips\s+mean\s+median\s+p90$/m);
  t.match(table, /^FDE@6\.4s\s+4\s+12\.000\s+7\.500\s+/m);
});

t.test('clip seeds depend only on the base seed and the clip id', async (t) => {
  // FNV-1a 32-bit of "<base>:<clip>" computed independently.
  t.equal(clipSeed('abc'), 3688271969);
  t.equal(clipSeed('a08ff49b-6f77-4632-a16c-43069c43a8c3', 7), 2200807477);
  t.not(clipSeed('abc', 1), clipSeed('abc', 0));
});

t.test('results file: a line cut short by a crash is dropped from the file', async (t) => {
  const path = join(t.testdir(), 'r.jsonl');
  const r = { clip: 'c1', t0Us: 5_100_000, minADE: { '6.4s': 1 } };
  writeFileSync(path, JSON.stringify(r) + '\n' + '{"clip":"c2","t0');
  t.same(await readResultsFile(path), [r]);
  t.equal(readFileSync(path, 'utf8'), JSON.stringify(r) + '\n');
  t.same(await readResultsFile(join(t.testdir(), 'missing.jsonl')), []);
});

t.test('progress bar text', async (t) => {
  const bar = new ProgressBar(10, { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream);
  for (let i = 0; i < 3; i++) bar.tick('x');
  t.match(bar.render('clip-3'), /^\[#{7}\.{17}\] 3\/10 30% \d+\.\d s\/clip ETA \d+s {2}clip-3$/);
  t.equal(formatDuration(3725), '1h02m');
  t.equal(formatDuration(185), '3m05s');
});

const skipE2E = realAddonSkip() || noBuiltCli;

function cli(...argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...argv], { encoding: 'utf8', env: { ...process.env, ALPAMAYO_TRT_NATIVE: REAL_ADDON }, timeout: 600_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Line = Record<string, unknown> & { clip: string; seed: number; timings: Record<string, number>; minADE: Record<string, number> };
const withoutTimings = ({ timings, ...rest }: Line): Record<string, unknown> => (void timings, rest);

t.test('alpamayo-trt eval end to end, resume, and the library iterator', { skip: skipE2E }, async (t) => {
  const dir = t.testdir();
  const data = join(dir, 'data');
  const ckpt = join(dir, 'ckpt');
  makeClips(data, '--count', '3', '--seed', '5', '--width', '96', '--height', '64', '--clips-per-chunk', '2');
  t.equal(cli('make-checkpoint', ckpt, '--preset', 'tiny', '--seed', '0').status, 0);
  const out = join(dir, 'results.jsonl');
  const opts = ['--checkpoint', ckpt, '--data', data, '--samples', '2', '--max-tokens', '8', '--backend', 'cpu', '--out', out];
  const first = cli('eval', ...opts);
  t.equal(first.status, 0, first.stderr);
  t.match(first.stderr, /3 clips, 0 already in .*, 3 to run/);
  t.match(first.stderr, /\[#{24}\] 3\/3 100% .* ETA 0s/, 'progress bar reaches the end');
  t.match(first.stdout, /^minADE@6\.4s\s+3\s+\d+\.\d{3}/m, 'summary table');
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
  t.equal(lines.length, 3);
  for (const l of lines) {
    t.equal(l.t0, 5.1);
    t.equal(l.samples, 2);
    t.equal(l.seed, clipSeed(l.clip, 0), 'per-clip seed');
    t.ok(Object.values(l.minADE).every((v) => Number.isFinite(v) && v >= 0));
    t.ok(l.timings.loadMs > 0 && l.timings.planMs > 0);
    t.type(l.reasoning, 'string');
  }

  // Resume: drop the last line; only that clip runs again and gives the same result (same seed).
  writeFileSync(out, lines.slice(0, 2).map((l) => JSON.stringify(l)).join('\n') + '\n');
  const second = cli('eval', ...opts);
  t.equal(second.status, 0, second.stderr);
  t.match(second.stderr, /3 clips, 2 already in .*, 1 to run/);
  const again = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
  t.equal(again.length, 3);
  t.same(withoutTimings(again[2]!), withoutTimings(lines[2]!), 'the rerun clip gives the same result');

  // The library's async iterator gives the same results as the CLI.
  process.env.ALPAMAYO_TRT_NATIVE = REAL_ADDON;
  const { Planner } = await import('../lib/Planner.js');
  const { evaluateClips } = await import('../lib/eval/evaluateClips.js');
  const planner = await Planner.load({ checkpoint: ckpt, backend: 'cpu' });
  try {
    const got: Line[] = [];
    for await (const r of evaluateClips({ data, planner, samples: 2, plan: { maxReasoningTokens: 8 } })) got.push(r as unknown as Line);
    t.same(got.map(withoutTimings), lines.map(withoutTimings), 'library iterator == CLI');
  } finally {
    await planner.dispose();
  }

  // Clip selection, an unknown clip, and clips that cannot be evaluated at that t0.
  const one = cli('eval', ...opts.slice(0, -1), join(dir, 'one.jsonl'), '--clips', lines[1]!.clip);
  t.equal(one.status, 0, one.stderr);
  t.same(withoutTimings(JSON.parse(readFileSync(join(dir, 'one.jsonl'), 'utf8')) as Line), withoutTimings(lines[1]!));
  const unknown = cli('eval', ...opts, '--clips', 'nope');
  t.equal(unknown.status, 1);
  t.match(unknown.stderr, /INVALID_INPUT: dataset: unknown clip 'nope'/);
  const late = cli('eval', ...opts.slice(0, -1), join(dir, 'late.jsonl'), '--t0', '9');
  t.equal(late.status, 1);
  t.match(late.stderr, /egomotion: pose time \d+ us is outside the samples/);
  t.match(late.stderr, /3 clip\(s\) failed/);
  t.same(await readResultsFile(join(dir, 'late.jsonl')), [], 'failures are not written');
});

t.test('eval flag errors', { skip: noBuiltCli }, async (t) => {
  const r = cli('eval', '--data', resolve('nowhere'), '--out', 'x.jsonl');
  t.equal(r.status, 1);
  t.match(r.stderr, /eval: --checkpoint is required/);
  const bad = cli('eval', '--checkpoint', 'c', '--data', 'd', '--out', 'o', '--samples', '17');
  t.match(bad.stderr, /--samples: expected an integer in \[1, 16\], got '17'/);
  const unk = cli('eval', '--checkpoint', 'c', '--sample', '2');
  t.match(unk.stderr, /unknown option '--sample'; did you mean '--samples'\?/);
});

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { egoHistory } from './fixtures/inputs.js';

process.env.ALPAMAYO_TRT_NATIVE = resolve('test/fixtures/fakeAddon.cjs');
const { runCli, CLI_USAGE } = await import('../lib/cli/runCli.js');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n') });
  return { code, out, err };
}

t.test('--help prints usage with every command', async (t) => {
  const r = await cli('--help');
  t.equal(r.code, 0);
  t.equal(r.out.trim(), CLI_USAGE);
  for (const cmd of ['info', 'inspect', 'make-checkpoint', 'plan --checkpoint DIR --inputs FILE.json']) t.match(r.out, cmd);
  t.equal((await cli()).code, 1, 'no command is an error (usage still printed)');
});

t.test('the built bin prints help', { skip: existsSync('dist/esm/cli/cli.js') ? false : 'dist/ not built (npm test builds it first)' }, async (t) => {
  const r = spawnSync(process.execPath, ['dist/esm/cli/cli.js', '--help'], { encoding: 'utf8' });
  t.equal(r.status, 0);
  t.match(r.stdout, /^alpamayo-trt: run NVIDIA Alpamayo 1/);
});

t.test('errors are reported with their code and a non-zero exit', async (t) => {
  const unknown = await cli('frobnicate');
  t.equal(unknown.code, 1);
  t.match(unknown.err, /unknown command 'frobnicate'/);
  const badFlag = await cli('plan', '--checkpint', 'x');
  t.equal(badFlag.code, 1);
  t.match(badFlag.err, /checkpint/);
  const missing = await cli('plan', '--checkpoint', 'x');
  t.match(missing.err, /INVALID_INPUT: plan: --checkpoint DIR and --inputs FILE.json are required/);
  const preset = await cli('make-checkpoint', t.testdir(), '--preset', 'huge');
  t.match(preset.err, /--preset: expected tiny, small or realdims, got 'huge'/);
});

t.test('--version, did-you-mean flags, integer flags', async (t) => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  const v = await cli('--version');
  t.equal(v.code, 0);
  t.equal(v.out.trim(), version);
  const typo = await cli('plan', '--checkpoint', 'x', '--sample', '2');
  t.equal(typo.code, 1);
  t.match(typo.err, /INVALID_INPUT: unknown option '--sample'; did you mean '--samples'\?/);
  t.match((await cli('info', '--jsn')).err, /did you mean '--json'\?/);
  t.match((await cli('info', '--zzzzzzzz')).err, /unknown option '--zzzzzzzz' \(see --help\)/);
  t.match((await cli('plan', '--checkpoint')).err, /INVALID_INPUT: .*--checkpoint/, 'a flag without its value');
  const frac = await cli('make-checkpoint', join(t.testdir(), 'c'), '--seed', '1.5');
  t.equal(frac.code, 1);
  t.match(frac.err, /INVALID_INPUT: --seed: expected an integer, got '1.5'/, '--seed 1.5 is an error, not seed 1');
  t.match((await cli('plan', '--checkpoint', 'x', '--inputs', 'y', '--samples', '2.5')).err, /--samples: expected an integer, got '2.5'/);
  t.match((await cli('plan', '--checkpoint', 'x', '--inputs', 'y', '--max-tokens', '1e400')).err, /--max-tokens: expected a number/);
});

t.test('build-engines fails when the engines were not built, unless --export-only', async (t) => {
  const dir = t.testdir();
  const args = ['build-engines', '--checkpoint', dir, '--out', join(dir, 'eng'), '--precision', 'fp16'];
  const r = await cli(...args);
  t.equal(r.code, 1, 'exit 1: no engines');
  t.match(r.out, /trtexec --onnx=llm\.onnx/, 'the trtexec commands are still printed');
  t.match(r.err, /engines NOT built \(pass --export-only/);
  const e = await cli(...args, '--export-only');
  t.equal(e.code, 0, 'an export-only run succeeds');
  t.equal(e.err, '');
});

// The CPU addon never builds, so whether --export-only reaches the native call is observed on the call
// itself: its options' exportOnly (the native side, exporter::export_engines, never calls the TensorRT builder
// when it is true: native/tests/export_model_test.cpp).
t.test('build-engines passes --export-only to the native export', async (t) => {
  const { loadNative } = await import('../lib/native.js');
  const addon = loadNative();
  const real = addon.exportEngines;
  const seen: unknown[] = [];
  addon.exportEngines = (...a: Parameters<typeof real>) => {
    seen.push(a[6]?.exportOnly);
    return real.apply(addon, a);
  };
  t.teardown(() => {
    addon.exportEngines = real;
  });
  const dir = t.testdir();
  const args = ['build-engines', '--checkpoint', dir, '--out', join(dir, 'eng'), '--precision', 'fp16'];
  const e = await cli(...args, '--export-only');
  t.equal(e.code, 0);
  t.match(e.out, /--export-only: the ONNX graphs and manifest\.json are written, the engines are NOT built/);
  t.equal((await cli(...args)).code, 1);
  t.same(seen, [true, false], 'exportOnly: true with the flag, false without');
});

t.test('filesystem errors are the caller\'s, not INTERNAL', async (t) => {
  const dir = t.testdir({ file: 'x' });
  const r = await cli('make-checkpoint', join(dir, 'file', 'ckpt'));
  t.equal(r.code, 1);
  t.match(r.err, /INVALID_INPUT: .*cannot create the checkpoint directory \(ENOTDIR\)/);
  t.notMatch(r.err, /: INTERNAL:/);
});

t.test('info and inspect', async (t) => {
  const info = await cli('info');
  t.equal(info.code, 0);
  t.match(info.out, /variant: cpu/);
  t.match(info.out, /cuda: not compiled/);
  const inspect = await cli('inspect', t.testdir());
  t.match(inspect.out, /architectures: \["AlpamayoR1"\]/);
  t.match(inspect.out, /expert\s+2 tensors\s+1000 bytes/);
});

t.test('make-checkpoint then plan from an inputs file', async (t) => {
  const dir = t.testdir();
  const ckpt = join(dir, 'ckpt');
  const made = await cli('make-checkpoint', ckpt, '--seed', '3');
  t.equal(made.code, 0, made.err);
  const tok = JSON.parse(readFileSync(join(ckpt, 'tokenizer.json'), 'utf8'));
  t.equal(tok.added_tokens.find((a: { content: string }) => a.content === '<|cot_start|>').id, 322);
  const cams = ['front_wide', 'front_tele', 'cross_left', 'cross_right'];
  const frames: Record<string, unknown[]> = {};
  for (const cam of cams) {
    frames[cam] = [0, 1, 2, 3].map((i) => {
      writeFileSync(join(dir, `${cam}${i}.rgb`), new Uint8Array(64 * 80 * 3).fill(i));
      return { path: `${cam}${i}.rgb`, width: 80, height: 64, timestampUs: 2_200_000 + i * 100_000 };
    });
  }
  writeFileSync(join(dir, 'inputs.json'), JSON.stringify({ frames, egoHistory: egoHistory() }));
  writeFileSync(join(dir, 'noise.json'), JSON.stringify(Array(256).fill(0.5)));
  const r = await cli('plan', '--checkpoint', ckpt, '--inputs', join(dir, 'inputs.json'), '--samples', '2', '--seed', '9', '--noise', join(dir, 'noise.json'), '--json');
  t.equal(r.code, 0, r.err);
  const json = JSON.parse(r.out);
  t.equal(json.seed, 9);
  t.equal(json.samples.length, 2);
  t.equal(json.waypoints.positions.length, 192);
  t.equal(json.t0Us, 2_500_000);
  const bad = await cli('plan', '--checkpoint', ckpt, '--inputs', join(dir, 'inputs.json'), '--samples', 'two');
  t.match(bad.err, /--samples: expected a number, got 'two'/);
  writeFileSync(join(dir, 'png.json'), JSON.stringify({ frames: { front_wide: [{ path: 'x.txt', timestampUs: 0 }] }, egoHistory: [] }));
  writeFileSync(join(dir, 'x.txt'), 'x');
  t.match((await cli('plan', '--checkpoint', ckpt, '--inputs', join(dir, 'png.json'))).err, /a \.rgb, \.png, \.jpg or \.jpeg file/);
});

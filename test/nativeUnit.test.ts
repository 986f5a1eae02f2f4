import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

// The C++ unit tests (native/tests/*.cpp) built beside the addon by scripts/build-native.mjs.
// The harness reports "N passed, N skipped, N failed"; a skipped case (e.g. a CUDA case without a GPU)
// is listed here as a skip, never counted as a pass.
const bin = resolve('build/Release/alpamayo_native_tests');

t.test('native unit tests pass', { timeout: 300_000 }, async (t) => {
  t.ok(existsSync(bin), `${bin} exists (built by npm install)`);
  const r = spawnSync(bin, [], { encoding: 'utf8', cwd: process.cwd(), maxBuffer: 64 << 20 });
  const out = r.stdout ?? '';
  const summary = /^(\d+) passed, (\d+) skipped, (\d+) failed$/m.exec(out);
  t.ok(summary, 'the harness printed its summary');
  const lines = out.split('\n');
  const failed = lines.filter((l) => l.startsWith('not ok'));
  const skipped = lines.filter((l) => l.startsWith('skip '));
  t.same(failed, [], 'no failing native case');
  t.equal(r.status, 0, `exit status 0 (stderr: ${r.stderr.slice(-2000)})`);
  t.equal(skipped.length, Number(summary?.[2]), 'every skipped case is listed with its reason');
  // tap prints skipped subtests in its summary ("# { total, pass, skip }") instead of hiding them.
  for (const line of skipped) {
    const m = /^skip (\S+): (.*)$/.exec(line);
    t.test(m?.[1] ?? line, { skip: m?.[2] ?? 'no reason given' }, () => {});
  }
  t.comment(summary?.[0] ?? 'no summary');
  t.ok(Number(summary?.[1]) >= 80, `at least 80 native cases passed (got ${summary?.[1]}; skips do not count)`);
});

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

// The C++ unit tests (native/tests/*.cpp) built beside the addon by scripts/build-native.mjs.
const bin = resolve('build/Release/alpamayo_native_tests');

t.test('native unit tests pass', { timeout: 300_000 }, async (t) => {
  t.ok(existsSync(bin), `${bin} exists (built by npm install)`);
  const r = spawnSync(bin, [], { encoding: 'utf8', cwd: process.cwd(), maxBuffer: 64 << 20 });
  const summary = /^(\d+) passed, (\d+) failed$/m.exec(r.stdout ?? '');
  t.ok(summary, 'the harness printed its summary');
  const failed = r.stdout.split('\n').filter((l) => l.startsWith('not ok'));
  t.same(failed, [], 'no failing native case');
  t.equal(r.status, 0, `exit status 0 (stderr: ${r.stderr.slice(-2000)})`);
  t.ok(Number(summary?.[1]) >= 80, `at least 80 native cases ran (got ${summary?.[1]})`);
});

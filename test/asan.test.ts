// ASan/UBSan build of the native core + its unit tests. Slow (minutes), so it runs only where CI asks
// for it with ALPAMAYO_ASAN=1; elsewhere the skip reason is printed. The CPU variant only: CI has no GPU,
// so the CUDA cases would skip, and the sanitized CUDA build (cuDNN frontend included) costs CI many minutes.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const enabled = process.env.ALPAMAYO_ASAN === '1';

t.test('native unit tests under AddressSanitizer + UndefinedBehaviorSanitizer', { skip: enabled ? false : 'set ALPAMAYO_ASAN=1 to build build-asan/ and run the sanitized native tests (takes minutes)' }, async (t) => {
  const build = spawnSync(process.execPath, ['scripts/build-native.mjs', '--sanitize', '--variant', 'cpu', '--build-dir', 'build-asan', '--out', 'build-asan/out'], {
    stdio: 'inherit',
    timeout: 1_800_000,
  });
  t.equal(build.status, 0, 'sanitized build succeeded');
  if (build.status !== 0) return;
  const run = spawnSync('build-asan/out/alpamayo_native_tests', [], {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' },
  });
  const out = `${run.stdout}${run.stderr}`;
  t.comment(out.split('\n').slice(-5).join('\n# '));
  t.equal(run.signal, null, 'no sanitizer abort');
  t.equal(run.status, 0, 'all native tests passed');
  t.notMatch(out, /ERROR: AddressSanitizer|runtime error:/, 'no ASan/UBSan report');
  // The TensorRT runner over the fake TensorRT/CUDA runtimes (built where the CUDA headers are): its
  // "device" buffers are host memory here, so ASan sees the runner's and the engines' accesses to them.
  if (existsSync('build-asan/out/alpamayo_trt_fake_tests')) {
    const fake = spawnSync('build-asan/out/alpamayo_trt_fake_tests', [], {
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' },
    });
    const fout = `${fake.stdout}${fake.stderr}`;
    t.equal(fake.status, 0, `the fake-TensorRT runner test passed under ASan (${fout.slice(-2000)})`);
    t.notMatch(fout, /ERROR: AddressSanitizer|runtime error:/, 'no ASan/UBSan report from the runner over the fake runtime');
  }
});

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

// The TensorRT runner over fake TensorRT and CUDA runtimes (native/tests/fake_trt, built beside the
// addon by scripts/build-native.mjs): the runner's call sequence against the rules of TensorRT's
// runtime API, on machines with neither TensorRT nor a GPU. CMake builds it wherever the CUDA
// runtime headers are; without them this is a skip naming the header, never a pass, and with them a
// missing binary is a failure.
const bin = resolve('build/Release/alpamayo_trt_fake_tests');
const cudaHeaderDirs = [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda']
  .filter((d): d is string => Boolean(d))
  .map((d) => join(d, 'include'))
  .concat('/usr/include');
const cudaHeaders = cudaHeaderDirs.find((d) => existsSync(join(d, 'cuda_runtime_api.h')));

t.test('TensorRT runner on the fake TensorRT runtime keeps the runtime contract', {
  timeout: 120_000,
  skip: !existsSync(bin) && !cudaHeaders ? `no cuda_runtime_api.h in ${cudaHeaderDirs.join(', ')}: alpamayo_trt_fake_tests is not built here` : false,
}, async (t) => {
  t.ok(existsSync(bin), `${bin} exists (CUDA headers in ${cudaHeaders}: npm run build:native builds it)`);
  if (!existsSync(bin)) return;
  const r = spawnSync(bin, [], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const out = r.stdout ?? '';
  const summary = /^(\d+) passed, (\d+) skipped, (\d+) failed$/m.exec(out);
  t.ok(summary, `the harness printed its summary (stderr: ${(r.stderr ?? '').slice(-2000)})`);
  const lines = out.split('\n');
  const failed = lines.filter((l) => l.startsWith('not ok'));
  t.same(failed, [], 'no failing case');
  if (failed.length > 0) t.comment(out.slice(-6000));
  t.same(lines.filter((l) => l.startsWith('skip ')), [], 'no skipped case');
  t.equal(r.status, 0, 'exit status 0');
  for (const name of ['trt_runner_on_fake_tensorrt_keeps_the_runtime_contract', 'trt_runner_selects_tokens_on_the_device_as_select_tokens', 'trt_fake_runtime_reports_each_misuse'])
    t.ok(lines.includes(`ok ${name}`), `${name} passed`);
  for (const l of lines.filter((l) => l.trimStart().startsWith('# '))) t.comment(l.trim().slice(2));
});

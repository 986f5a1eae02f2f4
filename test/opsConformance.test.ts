import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The Ops conformance table (native/tests/ops_conformance_test.cpp): every backend, every row, every
// precision against the CPU executor in fp32. CPU precisions always; CUDA where a device is present
// (a skip otherwise, listed as one); ONNX through onnxruntime when ALPAMAYO_PYTHON is set.
const bin = resolve('build/Release/alpamayo_native_tests');
const python = process.env.ALPAMAYO_PYTHON;

function runNative(filter: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(bin, [filter], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ...env } });
}

t.test('executor backends match CpuOps fp32 on every row', { timeout: 600_000 }, async (t) => {
  t.ok(existsSync(bin), `${bin} exists`);
  for (const backend of ['cpu', 'cuda']) {
    const r = runNative(`ops_conformance_${backend}`);
    t.equal(r.status, 0, `${backend}: every row within tolerance`);
    if (r.status !== 0) t.comment(r.stdout.split('\n').filter((l) => l.includes('.cpp:')).slice(0, 40).join('\n'));
    const skip = /^skip ops_conformance_\w+: (.*)$/m.exec(r.stdout);
    if (skip) {
      t.test(`conformance on ${backend}`, { skip: skip[1] }, () => {});
      continue;
    }
    const m = /conformance (\w+): (\d+) rows x (\d+) precisions = (\d+) checks/.exec(r.stdout);
    t.ok(m, `${backend}: printed its summary`);
    t.ok(Number(m?.[2]) >= 35, `${backend}: the table has its rows (${m?.[2]})`);
    t.equal(Number(m?.[4]), Number(m?.[2]) * Number(m?.[3]), `${backend}: every row ran at every precision`);
    for (const line of r.stdout.split('\n').filter((l) => l.startsWith(`    ${backend} `) || l.includes('conformance '))) t.comment(line.trim());
  }
});

t.test('onnxruntime runs the exported rows like CpuOps fp32', { skip: python ? false : 'set ALPAMAYO_PYTHON (onnx, onnxruntime) to run the table through onnxruntime', timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'alpamayo-conformance-'));
  try {
    const rec = runNative('ops_conformance_onnx_export', { ALPAMAYO_CONFORMANCE_ONNX_DIR: dir });
    t.equal(rec.status, 0, 'recorded the table as ONNX graphs');
    if (rec.status !== 0) t.comment(rec.stdout.slice(-3000));
    const py = spawnSync(python!, ['test/fixtures/onnx/check_conformance.py', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const summary = /^(\d+) passed, (\d+) failed$/m.exec(py.stdout ?? '');
    t.equal(py.status, 0, 'every graph within tolerance');
    if (py.status !== 0) t.comment(`${py.stdout.split('\n').filter((l) => l.startsWith('not ok')).join('\n')}${py.stderr.slice(-2000)}`);
    t.ok(Number(summary?.[1]) >= 4 * 30, `rows x precisions ran (${summary?.[1]})`);
    t.comment(`onnx: ${summary?.[0]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { backends } from '../lib/native.js';
import { Planner } from '../lib/Planner.js';

// The real addon: what this binary was compiled with, and no silent fallback when a named backend
// cannot run here.
const report = backends();
const dir = mkdtempSync(join(tmpdir(), 'alpamayo-backends-'));
const made = spawnSync(process.execPath, ['dist/esm/cli/cli.js', 'make-checkpoint', dir, '--preset', 'tiny', '--seed', '3'], { encoding: 'utf8' });

t.test('backends() reports the compiled variant', async (t) => {
  t.equal(report.cpu, true);
  t.type(report.cuda.compiled, 'boolean');
  t.type(report.cuda.devices, 'number');
  t.type(report.tensorrt.compiled, 'boolean');
  t.equal(report.variant, report.tensorrt.compiled ? 'tensorrt' : report.cuda.compiled ? 'cuda' : 'cpu');
  if (report.cuda.compiled && report.cuda.devices === 0) t.ok(report.cuda.error, 'a compiled CUDA variant without a device says why');
});

t.test('a named backend that cannot run is BACKEND_UNAVAILABLE, never a fallback', async (t) => {
  t.equal(made.status, 0, made.stderr);
  if (report.cuda.devices === 0) {
    await t.rejects(Planner.load({ checkpoint: dir, backend: 'cuda' }), { code: 'BACKEND_UNAVAILABLE', message: /cuda/i });
  }
  if (!report.tensorrt.compiled) {
    await t.rejects(Planner.load({ checkpoint: dir, backend: 'tensorrt', engines: dir }), {
      code: 'BACKEND_UNAVAILABLE',
      message: /without TensorRT/,
    });
  }
});

t.test('auto picks the CPU on a machine without a GPU and says so', async (t) => {
  if (report.cuda.devices > 0) return t.skip('a CUDA device is present');
  const p = await Planner.load({ checkpoint: dir, backend: 'auto' });
  t.equal(p.backend, 'cpu');
  await p.dispose();
});

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { backends, nativeBinaryPath } from '../lib/native.js';

// The addon must load on machines without NVIDIA's libraries or driver: cudart is linked statically
// and cuBLASLt / cuDNN are opened with dlopen when a CUDA executor is made
// (native/backends/cuda/nvidia_libs.hpp). A DT_NEEDED entry on any of them would make the whole
// addon, CPU backend included, fail to load there.
t.test('the addon links no NVIDIA library dynamically', async (t) => {
  const path = nativeBinaryPath();
  const r = spawnSync('readelf', ['-d', path], { encoding: 'utf8' });
  t.notOk(r.error, 'readelf runs (binutils: the native build needs it anyway)');
  t.equal(r.status, 0, r.stderr);
  const needed = [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  t.ok(needed.length > 0, `readelf listed the NEEDED entries of ${path}`);
  t.same(needed.filter((n) => /cublas|cudnn|cudart|libcuda\.so|nvrtc/.test(n!)), [], `no NVIDIA library among ${needed.join(', ')}`);
  t.comment(`variant ${backends().variant}; NEEDED: ${needed.join(', ')}`);
});

import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadNativeFrom, nativeCandidates } from '../lib/native.js';

t.test('candidate order: env override alone, else local build then prebuilds', async (t) => {
  t.same(nativeCandidates('/pkg', { ALPAMAYO_TRT_NATIVE: '/x/a.node' }, true), [{ path: '/x/a.node', explicit: true }]);
  const gpu = nativeCandidates('/pkg', {}, true).map((c) => c.path);
  const plat = `${process.platform}-${process.arch}`;
  t.same(gpu, [
    '/pkg/build/Release/alpamayo_trt.node',
    `/pkg/prebuilds/${plat}/alpamayo_trt.tensorrt.node`,
    `/pkg/prebuilds/${plat}/alpamayo_trt.cuda.node`,
    `/pkg/prebuilds/${plat}/alpamayo_trt.cpu.node`,
  ]);
  t.same(nativeCandidates('/pkg', {}, false).map((c) => c.path), [
    '/pkg/build/Release/alpamayo_trt.node',
    `/pkg/prebuilds/${plat}/alpamayo_trt.cpu.node`,
    `/pkg/prebuilds/${plat}/alpamayo_trt.cuda.node`,
  ]);
});

t.test('load failures become BACKEND_UNAVAILABLE listing every path and the fix', async (t) => {
  const dir = t.testdir();
  const broken = join(dir, 'broken.node');
  writeFileSync(broken, 'not an ELF file');
  const err = (() => {
    try {
      loadNativeFrom([
        { path: join(dir, 'missing.node'), explicit: false },
        { path: broken, explicit: false },
      ]);
    } catch (e) {
      return e as { code: string; message: string };
    }
    return undefined;
  })();
  t.ok(err);
  t.equal(err!.code, 'BACKEND_UNAVAILABLE');
  t.match(err!.message, `${join(dir, 'missing.node')}: not found`);
  t.match(err!.message, broken);
  t.match(err!.message, /npm rebuild alpamayo-trt/);
  t.match(err!.message, /npm run build:native/);
  t.throws(() => loadNativeFrom([{ path: join(dir, 'nope.node'), explicit: true }]), { code: 'BACKEND_UNAVAILABLE', message: /ALPAMAYO_TRT_NATIVE/ });
});

t.test('a module that is not the addon is rejected', async (t) => {
  const dir = t.testdir({ 'other.cjs': 'module.exports = { hello: 1 };' });
  t.throws(() => loadNativeFrom([{ path: join(dir, 'other.cjs'), explicit: true }]), { code: 'BACKEND_UNAVAILABLE', message: /not an alpamayo-trt addon/ });
});

t.test('the fake addon loads through the same path and gets the error class', async (t) => {
  const { addon } = loadNativeFrom([{ path: join(process.cwd(), 'test/fixtures/fakeAddon.cjs'), explicit: true }]);
  t.equal(addon.backends().variant, 'cpu');
  t.throws(() => addon.historyTokenIds(new Float64Array(3), '{}'), { name: 'AlpamayoError', code: 'INVALID_INPUT' });
});

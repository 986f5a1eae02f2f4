import t from 'tap';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ALPAMAYO_ERROR_CODES, AlpamayoError, isAlpamayoError } from '../lib/AlpamayoError.js';
import { loadNative } from '../lib/native.js';

t.test('AlpamayoError carries code, field, expected, actual', async (t) => {
  const e = new AlpamayoError('frames.front_wide: bad', 'INVALID_INPUT', { field: 'frames.front_wide', expected: 4, actual: 3 });
  t.ok(e instanceof Error);
  t.ok(e instanceof AlpamayoError);
  t.equal(e.name, 'AlpamayoError');
  t.equal(e.message, 'frames.front_wide: bad');
  t.equal(e.code, 'INVALID_INPUT');
  t.equal(e.field, 'frames.front_wide');
  t.equal(e.expected, 4);
  t.equal(e.actual, 3);
  t.ok(isAlpamayoError(e, 'INVALID_INPUT'));
  t.notOk(isAlpamayoError(e, 'BUSY'));
  t.notOk(isAlpamayoError(new Error('x')));
});

t.test('native-style construction new ctor(message, code)', async (t) => {
  // The addon builds errors as `new ctor(message, code)` with no details object.
  const e = new AlpamayoError('missing tensor expert.norm.weight', 'INVALID_CHECKPOINT');
  t.equal(e.code, 'INVALID_CHECKPOINT');
  t.equal(e.field, undefined);
  t.notOk('expected' in e);
});

t.test('unknown code from a mismatched binary degrades to INTERNAL', async (t) => {
  const e = new AlpamayoError('x', 'NOT_A_CODE' as never);
  t.equal(e.code, 'INTERNAL');
});

t.test('cause is kept', async (t) => {
  const cause = new Error('root');
  const e = new AlpamayoError('wrapped', 'INTERNAL', { cause });
  t.equal(e.cause, cause);
});

t.test('the code list is the native one, in alp::ErrorCode order', async (t) => {
  // Read from the addon (alp::kErrorCodes through alp::error_code_name), not restated here.
  t.same(ALPAMAYO_ERROR_CODES, loadNative().errorCodes);
  // Issue 19's code is one of them (memory ran out, or would at load).
  t.ok(ALPAMAYO_ERROR_CODES.includes('RESOURCE_EXHAUSTED'));
});

t.test('one AlpamayoError across two copies of the class (the ESM and CJS builds)', { skip: existsSync('dist/cjs/AlpamayoError.js') ? false : 'dist/ not built (npm test builds it first)' }, async (t) => {
  // dist/cjs is a second copy of the class, as in an app that both imports and requires the package.
  const cjs = createRequire(import.meta.url)('../dist/cjs/AlpamayoError.js') as typeof import('../lib/AlpamayoError.js');
  t.not(cjs.AlpamayoError, AlpamayoError, 'two distinct classes');
  const fromCjs = new cjs.AlpamayoError('x', 'BUSY');
  const fromEsm = new AlpamayoError('y', 'ABORTED');
  t.ok(fromCjs instanceof AlpamayoError && isAlpamayoError(fromCjs, 'BUSY'));
  t.ok(fromEsm instanceof cjs.AlpamayoError && cjs.isAlpamayoError(fromEsm, 'ABORTED'));
  t.notOk(cjs.isAlpamayoError(fromEsm, 'BUSY'), 'the code is still checked');
  for (const v of [new Error('x'), { code: 'BUSY', message: 'x' }, null, 'AlpamayoError', Object.create(AlpamayoError.prototype)]) {
    t.notOk(v instanceof AlpamayoError, `not branded: ${String(v)}`);
  }
  class Sub extends AlpamayoError {}
  t.ok(new Sub('s') instanceof Sub && new Sub('s') instanceof AlpamayoError && new Sub('s') instanceof cjs.AlpamayoError);
  t.notOk(fromEsm instanceof Sub, 'a subclass keeps the ordinary prototype check');
});

import t from 'tap';
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
});

/**
 * Stable machine-readable error codes. The native core uses the same strings
 * (`alp::error_code_name`), so an error keeps its code across the N-API boundary.
 */
export type AlpamayoErrorCode =
  | 'INVALID_INPUT'
  | 'INVALID_CHECKPOINT'
  | 'INVALID_ENGINE'
  | 'BACKEND_UNAVAILABLE'
  | 'ABORTED'
  | 'DISPOSED'
  | 'BUSY'
  | 'INTERNAL';

/** Every code, in a fixed order (useful for docs and exhaustive checks). */
export const ALPAMAYO_ERROR_CODES: readonly AlpamayoErrorCode[] = [
  'INVALID_INPUT',
  'INVALID_CHECKPOINT',
  'INVALID_ENGINE',
  'BACKEND_UNAVAILABLE',
  'ABORTED',
  'DISPOSED',
  'BUSY',
  'INTERNAL',
];

/** Optional structured details attached to an {@link AlpamayoError}. */
export interface AlpamayoErrorDetails {
  /** Path of the offending input, e.g. `frames.front_wide[2].data`. */
  field?: string;
  /** What was expected (a value or a short description). */
  expected?: unknown;
  /** What was received. */
  actual?: unknown;
  /** Underlying error, when this one wraps another. */
  cause?: unknown;
}

// The package ships an ESM and a CJS build; an app that loads both gets two AlpamayoError classes (and
// the native addon, loaded once, builds its errors with only one of them). A registry-wide symbol brands
// every instance, and instanceof/isAlpamayoError check the brand, so either class recognizes both.
const BRAND = Symbol.for('alpamayo-trt.AlpamayoError');

/**
 * The only error type the package throws or rejects with. Branch on `code`, not on the message.
 * The native addon constructs it as `new AlpamayoError(message, code)`. `instanceof AlpamayoError`
 * holds across the package's ESM and CJS builds (one brand, see {@link isAlpamayoError}).
 */
export class AlpamayoError extends Error {
  /** Machine-readable category. */
  readonly code: AlpamayoErrorCode;
  // `declare`: absent details stay absent (no own `undefined` properties cluttering logs).
  /** Path of the offending input, when the error is about one field. */
  declare readonly field?: string;
  /** What was expected, when known. */
  declare readonly expected?: unknown;
  /** What was received, when known. */
  declare readonly actual?: unknown;

  constructor(message: string, code: AlpamayoErrorCode = 'INTERNAL', details: AlpamayoErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'AlpamayoError';
    // An unknown code from a newer/older native binary must not produce an error that fails `code` checks silently.
    this.code = (ALPAMAYO_ERROR_CODES as readonly string[]).includes(code) ? code : 'INTERNAL';
    if (details.field !== undefined) this.field = details.field;
    if ('expected' in details) this.expected = details.expected;
    if ('actual' in details) this.actual = details.actual;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** Brand check for `AlpamayoError` itself; subclasses keep the ordinary prototype-chain check. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== AlpamayoError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && Reflect.get(value, BRAND) === true;
  }
}

/** Type guard for {@link AlpamayoError}, optionally for one code. */
export function isAlpamayoError(value: unknown, code?: AlpamayoErrorCode): value is AlpamayoError {
  return value instanceof AlpamayoError && (code === undefined || value.code === code);
}

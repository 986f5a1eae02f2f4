// Shared predicates and the one error format for input validation:
// "<field>: expected <expected>, got <actual>".
import { AlpamayoError } from './AlpamayoError.js';

/** Short human description of a received value for error messages. @internal */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) {
    const ctor = (value as { constructor: { name: string } }).constructor.name;
    return `a ${ctor} of length ${(value as unknown as { length?: number }).length ?? value.byteLength}`;
  }
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: string } }).constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return String(value);
}

/** Builds the INVALID_INPUT error for one field. @internal */
export function invalidInput(field: string, expected: string, actual: unknown, note?: string): AlpamayoError {
  return new AlpamayoError(`${field}: expected ${expected}, got ${describeValue(actual)}${note ? ` (${note})` : ''}`, 'INVALID_INPUT', {
    field,
    expected,
    actual,
  });
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j] as number;
      row[j] = Math.min(up + 1, (row[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length] as number;
}

/** The allowed name closest to `name` (case-insensitive match, edit distance <= 2, or a prefix), if any. @internal */
export function closestName(name: string, allowed: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDist = 3;
  for (const candidate of allowed) {
    const d = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase());
    if (d < bestDist) {
      best = candidate;
      bestDist = d;
    }
  }
  // A truncated name ('front' for 'front_wide') is a likely typo too.
  return best ?? allowed.find((c) => lower.length >= 3 && c.toLowerCase().startsWith(lower));
}

/** Rejects keys of `obj` not in `allowed`, suggesting the close match. @internal */
export function checkKnownKeys(obj: object, allowed: readonly string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const guess = closestName(key, allowed);
    const field = prefix ? `${prefix}.${key}` : key;
    throw new AlpamayoError(
      `${field}: unknown option${guess ? `; did you mean '${guess}'?` : ''} (known: ${allowed.join(', ')})`,
      'INVALID_INPUT',
      { field, expected: guess ?? allowed, actual: key },
    );
  }
}

/** True for a non-null, non-array object. @internal */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** True when the buffer behind `view` has been transferred or detached. @internal */
export function isDetached(view: ArrayBufferView): boolean {
  const buffer = view.buffer as ArrayBuffer & { detached?: boolean };
  if (typeof buffer.detached === 'boolean') return buffer.detached;
  if (buffer.byteLength !== 0) return false;
  // Older runtimes: only a zero-length buffer can be detached, and viewing a detached one throws.
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

/** Integer check with inclusive bounds. @internal */
export function checkInteger(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in ${min}..${max}`;
    throw invalidInput(field, range, value);
  }
  return value;
}

/** Finite-number check. @internal */
export function checkFinite(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidInput(field, 'a finite number', value);
  return value;
}

/** Reads `length` finite numbers from an array-like, naming the first bad element. @internal */
export function checkFiniteVector(field: string, value: unknown, length: number): number[] {
  const arrayLike = Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
  if (!arrayLike) throw invalidInput(field, `an array of ${length} finite numbers`, value);
  const arr = value as ArrayLike<unknown>;
  if (arr.length !== length) throw invalidInput(field, `an array of ${length} finite numbers`, value);
  const out = new Array<number>(length);
  for (let i = 0; i < length; i++) out[i] = checkFinite(`${field}[${i}]`, arr[i]);
  return out;
}

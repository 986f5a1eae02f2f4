// Flag value checks shared by the eval, worker and make-clips commands (on top of parseFlags.ts).
import { AlpamayoError } from '../AlpamayoError.js';
import { numberFlag } from './parseFlags.js';

export { numberFlag };

/** An integer flag within [min, max], or undefined when absent. @internal */
export function integerFlag(name: string, v: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const n = numberFlag(name, v);
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new AlpamayoError(`--${name}: expected an integer in [${min}, ${max}], got '${v}'`, 'INVALID_INPUT', { field: `--${name}`, expected: `an integer in [${min}, ${max}]`, actual: v });
  }
  return n;
}

/** A required string flag. @internal */
export function requiredFlag(command: string, name: string, v: string | undefined): string {
  if (v === undefined || v === '') throw new AlpamayoError(`${command}: --${name} is required`, 'INVALID_INPUT', { field: `--${name}` });
  return v;
}

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AlpamayoError } from '../AlpamayoError.js';
import { closestName } from '../validateCommon.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `util.parseArgs` (strict, positionals allowed) with its errors turned into INVALID_INPUT, and an
 * unknown flag answered with the closest known one (`--sample` -> `--samples`), as the API does for keys.
 * @internal
 */
export function parseFlags<O extends Options>(argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options });
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const flag = /'([^']+)'/.exec(e.message)?.[1] ?? '';
      const names = Object.keys(options);
      const guess = closestName(flag.replace(/^-+/, '').split('=')[0] ?? '', names);
      throw new AlpamayoError(`unknown option '${flag}'${guess ? `; did you mean '--${guess}'?` : ''} (see --help)`, 'INVALID_INPUT', {
        field: flag,
        expected: guess ? `--${guess}` : names.map((n) => `--${n}`),
        actual: flag,
      });
    }
    if (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) throw new AlpamayoError(e.message, 'INVALID_INPUT', { cause: err });
    throw err;
  }
}

function flagError(name: string, expected: string, v: string): AlpamayoError {
  return new AlpamayoError(`--${name}: expected ${expected}, got '${v}'`, 'INVALID_INPUT', { field: `--${name}`, expected, actual: v });
}

/** A flag's value as a number (`undefined` when the flag is absent). @internal */
export function numberFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw flagError(name, 'a number', v);
  return n;
}

/** A flag's value as an integer: `--seed 1.5` is an error, not seed 1. @internal */
export function integerFlag(name: string, v: string | undefined): number | undefined {
  const n = numberFlag(name, v);
  if (n !== undefined && !Number.isSafeInteger(n)) throw flagError(name, 'an integer', v as string);
  return n;
}

import { stat } from 'node:fs/promises';
import { AlpamayoError, type AlpamayoErrorCode } from './AlpamayoError.js';

/**
 * Fails with `code` when `path` is not an existing directory, so a typo in a path reads as "does not
 * exist" instead of an error about the first file looked for inside it.
 * @internal
 */
export async function checkDirectory(path: string, field: string, what: string, code: AlpamayoErrorCode): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    const why = errno === 'ENOENT' || errno === 'ENOTDIR' ? 'does not exist' : `cannot be read (${errno ?? (err as Error).message})`;
    throw new AlpamayoError(`${field}: ${what} ${path} ${why}`, code, { field, expected: `an existing ${what}`, actual: path, cause: err });
  }
  if (!isDir) throw new AlpamayoError(`${field}: ${path} is a file, not a ${what}`, code, { field, expected: `an existing ${what}`, actual: path });
}

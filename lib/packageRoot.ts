import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Path of the compiled file this function lives in. lib/ is compiled both as ESM and CJS, and
 * `import.meta` is a syntax error in CJS while `__dirname` does not exist in ESM, so the location is
 * read from V8's structured stack trace, which works in both.
 * @internal
 */
export function currentModuleFile(): string {
  const original = Error.prepareStackTrace;
  try {
    Error.prepareStackTrace = (_error, callSites) => callSites;
    const callSites = new Error().stack as unknown as NodeJS.CallSite[];
    const name = callSites[0]?.getFileName();
    if (!name) throw new Error('no call site');
    return name.startsWith('file:') ? fileURLToPath(name) : name;
  } finally {
    Error.prepareStackTrace = original;
  }
}

let cachedRoot: string | undefined;

/**
 * Root folder of the installed alpamayo-trt package (where package.json, build/ and prebuilds/ are).
 * Found by walking up from this file, so it works from lib/ (ts sources), dist/esm and dist/cjs.
 * @internal
 */
export function packageRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(currentModuleFile());
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const parsed = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown };
        if (parsed.name === 'alpamayo-trt') return (cachedRoot = dir);
      } catch {
        // dist/cjs/package.json only sets the module type; keep walking up.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('alpamayo-trt: cannot find the package root above ' + currentModuleFile());
    dir = parent;
  }
}

#!/usr/bin/env node
// The package's npm "install" script. In order:
//   - ALPAMAYO_TRT_NATIVE is set: the user supplies the addon; nothing to do.
//   - a source checkout (native/tests/ exists, never in the npm tarball): build the addon and the native
//     unit tests into build/Release, unless both are already there (`npm run build:native` rebuilds);
//   - an installed package: use the prebuilt binary for this platform when one loads (nothing compiles);
//   - otherwise, or with ALPAMAYO_TRT_BUILD_FROM_SOURCE=1: build
//     the addon only, in a temporary folder that is deleted afterwards.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const log = (msg) => console.log(`alpamayo-trt: ${msg}`);
const platform = `${process.platform}-${process.arch}`;
const buildNative = (extra) => {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs'), ...extra], { stdio: 'inherit', cwd: root });
  process.exitCode = r.status ?? 1;
};

/** Loads an addon in a child process (a crash or dlopen failure must not take the install down). */
function loads(path) {
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(path)}).backends().variant)`], { encoding: 'utf8' });
  return r.status === 0 ? { ok: true, variant: r.stdout } : { ok: false, why: (r.stderr.split('\n').find((l) => /Error/.test(l)) ?? r.stderr).trim() };
}

const fromSource = process.env.ALPAMAYO_TRT_BUILD_FROM_SOURCE === '1';

if (process.env.ALPAMAYO_TRT_NATIVE) {
  log(`ALPAMAYO_TRT_NATIVE=${process.env.ALPAMAYO_TRT_NATIVE}: using that addon, nothing to build`);
} else if (existsSync(join(root, 'native', 'tests'))) {
  const release = join(root, 'build', 'Release');
  if (!fromSource && existsSync(join(release, 'alpamayo_trt.node')) && existsSync(join(release, 'alpamayo_native_tests'))) {
    log('source checkout: build/Release is already built (`npm run build:native` rebuilds it)');
  } else {
    log('source checkout: building the addon and the native unit tests from source');
    buildNative([]);
  }
} else {
  // The runtime loader's own driver probe (dist/ ships in the tarball), so install and load agree.
  const { nvidiaDriverPresent } = await import('../dist/esm/native.js');
  const variants = nvidiaDriverPresent() ? ['cuda', 'cpu'] : ['cpu', 'cuda'];
  let used;
  const tried = [];
  if (!fromSource) {
    for (const v of variants) {
      const p = join(root, 'prebuilds', platform, `alpamayo_trt.${v}.node`);
      if (!existsSync(p)) continue;
      const r = loads(p);
      if (r.ok) {
        used = { path: p, variant: r.variant };
        break;
      }
      tried.push(`${relative(root, p)}: ${r.why}`);
    }
  }
  if (used) {
    log(`using the prebuilt ${used.variant} binary ${relative(root, used.path)}; nothing to compile`);
  } else {
    if (fromSource) log('building from source (requested)');
    else log(`no prebuilt binary loads on ${platform}${tried.length ? ` (${tried.join('; ')})` : ''}; building from source`);
    log('this needs cmake >= 3.25 and a C++20 compiler; CUDA needs nvcc (ALPAMAYO_VARIANT=cpu|cuda picks one)');
    buildNative(['--addon-only', '--temp']);
  }
}

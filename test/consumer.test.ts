// What a user does: `npm pack`, `npm install <tgz>` in an empty project with npm's default settings,
// then import/require the package, make a tiny checkpoint and plan; and type-check a strict TypeScript
// consumer without skipLibCheck. The prebuilt binary must be used: nothing compiles during the install.
// prebuilds/ comes from `npm run prebuild`; without one, the tarball is packed from a staged copy of the
// package's files plus build/Release/alpamayo_trt.node as the prebuild (the repo is not modified).
// ALPAMAYO_TEST_SOURCE_INSTALL=1 also installs with ALPAMAYO_TRT_BUILD_FROM_SOURCE=1 (a full compile: minutes).
import t from 'tap';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { mkdtempSync } from 'node:fs';

const root = resolve('.');
const platform = `${process.platform}-${process.arch}`;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
const npmCli = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath) ? process.env.npm_execpath : undefined;
const fixtures = join(root, 'test', 'fixtures', 'consumer');

// A clean environment: nothing from the `npm test` that runs us, nor our build settings, leaks into the
// consumer's npm (npm_config_* would override the consumer's defaults).
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(npm_|ALPAMAYO_|TAP|NODE_OPTIONS$)/i.test(k)),
);
if (process.env.npm_config_cache) env.npm_config_cache = process.env.npm_config_cache;

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): { code: number | null; out: string; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 64 * 2 ** 20, ...opts });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, ms: performance.now() - t0 };
}
const npm = (args: string[], cwd: string) => (npmCli ? run(process.execPath, [npmCli, ...args], { cwd }) : run('npm', args, { cwd }));

function duBytes(path: string): number {
  const r = run('du', ['-sb', path]);
  return Number(r.out.split(/\s/)[0]);
}

interface PackedFile {
  path: string;
  size: number;
}
function packList(cwd: string): PackedFile[] {
  const r = npm(['pack', '--dry-run', '--json', '--ignore-scripts'], cwd);
  if (r.code !== 0) throw new Error(`npm pack --dry-run failed:\n${r.out}`);
  return (JSON.parse(r.out.slice(r.out.indexOf('['))) as { files: PackedFile[] }[])[0]!.files;
}

const work = mkdtempSync(join(tmpdir(), 'alpamayo-consumer-test-'));
t.teardown(() => run('rm', ['-rf', work]));

const files = packList(root);

t.test('the tarball ships the library, not the workshop', async (t) => {
  const paths = files.map((f) => f.path);
  t.ok(paths.includes('LICENSE'), 'LICENSE is shipped');
  t.match(readFileSync(join(root, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004/);
  t.ok(paths.includes('dist/esm/index.js') && paths.includes('dist/cjs/index.js') && paths.includes('dist/esm/index.d.ts'));
  t.ok(paths.includes('scripts/install.mjs') && paths.includes('scripts/build-native.mjs'));
  t.same(paths.filter((p) => /^native\/tests\/|(^|\/)test\/|\.py$|\/tools\/|_golden|fixtures|\.test\.|prebuild\.mjs|build-ts\.mjs/.test(p)), [], 'no tests, fixture generators or dev scripts');
  t.same(paths.filter((p) => /^(build|build-[^/]*|\.cache)\//.test(p)), [], 'no build folders');
  for (const map of paths.filter((p) => p.endsWith('.js.map'))) {
    const m = JSON.parse(readFileSync(join(root, map), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
    if (m.sourcesContent?.length !== m.sources.length || m.sourcesContent.some((s) => typeof s !== 'string')) {
      t.fail(`${map} does not embed its sources`);
      return;
    }
  }
  t.pass('every source map embeds its sources');
});

// The tarball to install: packed from the repo when it has a prebuild for this platform, else from a
// staged copy of exactly the files npm would pack, plus build/Release/alpamayo_trt.node as the prebuild.
function packTarball(): { tgz: string; prebuild: string } {
  const own = files.find((f) => f.path.startsWith(`prebuilds/${platform}/`) && f.path.endsWith('.node'));
  let cwd = root;
  let prebuild = own?.path;
  if (!prebuild) {
    const built = join(root, 'build', 'Release', 'alpamayo_trt.node');
    if (!existsSync(built)) throw new Error(`no prebuilds/${platform} and no ${built}: run npm run prebuild or npm run build:native`);
    const variant = (createRequire(import.meta.url)(built) as { backends(): { variant: string } }).backends().variant;
    cwd = join(work, 'stage');
    for (const f of files) {
      mkdirSync(dirname(join(cwd, f.path)), { recursive: true });
      copyFileSync(join(root, f.path), join(cwd, f.path));
    }
    prebuild = `prebuilds/${platform}/alpamayo_trt.${variant}.node`;
    mkdirSync(join(cwd, 'prebuilds', platform), { recursive: true });
    copyFileSync(built, join(cwd, prebuild));
  }
  // --ignore-scripts: dist/ is built (npm test runs build:ts first) and the stage has no dev scripts.
  const r = npm(['pack', '--ignore-scripts', '--pack-destination', work], cwd);
  if (r.code !== 0) throw new Error(`npm pack failed:\n${r.out}`);
  return { tgz: join(work, `${pkg.name}-${pkg.version}.tgz`), prebuild };
}

function makeApp(name: string): string {
  const app = join(work, name);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }, null, 2));
  return app;
}

t.test('npm install <tgz> in a fresh project uses the prebuild; ESM, CJS and strict TS consumers plan', async (t) => {
  const { tgz, prebuild } = packTarball();
  const tgzBytes = Number(run('stat', ['-c', '%s', tgz]).out.trim());
  const app = makeApp('app');
  const install = npm(['install', tgz], app);
  t.equal(install.code, 0, 'npm install succeeds');
  if (install.code !== 0) {
    t.comment(install.out);
    return;
  }
  // npm shows install-script output only when it fails; the loaded binary below proves the prebuild was used.
  t.notMatch(install.out, /cmake|Building CXX|building from source/i, 'nothing was compiled');
  const installed = join(app, 'node_modules', pkg.name);
  t.same(readdirSync(installed).filter((f) => /^build/.test(f)), [], 'no build or scratch folders in the installed package');
  t.comment(
    `tarball ${(tgzBytes / 2 ** 20).toFixed(1)} MB; install with prebuild ${(install.ms / 1000).toFixed(1)} s; ` +
      `installed package ${(duBytes(installed) / 2 ** 20).toFixed(1)} MB, node_modules ${(duBytes(join(app, 'node_modules')) / 2 ** 20).toFixed(1)} MB`,
  );

  for (const f of readdirSync(fixtures)) cpSync(join(fixtures, f), join(app, f));
  for (const script of ['esm.mjs', 'cjs.cjs']) {
    const r = run(process.execPath, [script], { cwd: app });
    t.equal(r.code, 0, `${script} runs`);
    const line = r.out.trim().split('\n').pop() ?? '';
    const out = JSON.parse(line.startsWith('{') ? line : '{}') as Record<string, unknown>;
    t.match(out, {
      version: pkg.version,
      waypoints: 64,
      finite: true,
      reasoningIsString: true,
      errorCode: 'INVALID_CHECKPOINT',
      errorMessage: /checkpoint directory .* does not exist/,
      esmInstanceof: true,
      cjsInstanceof: true,
    }, `${script}: plans, and one AlpamayoError across ESM and CJS`);
    t.equal(out.binary, join(installed, prebuild), `${script}: the prebuilt binary is the one loaded`);
  }

  // Strict TypeScript consumers, with @types/node as a Node >= 20 project has it; no skipLibCheck.
  mkdirSync(join(app, 'node_modules', '@types'), { recursive: true });
  symlinkSync(join(root, 'node_modules', '@types', 'node'), join(app, 'node_modules', '@types', 'node'));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  for (const mode of ['nodenext', 'commonjs', 'bundler']) {
    const r = run(process.execPath, [tsc, '-p', `tsconfig.${mode}.json`, ...(mode === 'bundler' ? ['--noEmit'] : [])], { cwd: app });
    t.equal(r.code, 0, `tsc --strict (${mode} resolution) checks the published types`);
    if (r.code !== 0) t.comment(r.out);
  }
  const ts = run(process.execPath, [join('out-nodenext', 'consumer.js')], { cwd: app });
  t.equal(ts.code, 0, 'the compiled TypeScript consumer runs');
  t.match(JSON.parse(ts.out.trim().split('\n').pop() ?? '{}'), { format: 'ts', version: pkg.version, waypoints: 64, errorCode: 'INVALID_CHECKPOINT' });

  const v = npm(['exec', '--', 'alpamayo-trt', '--version'], app);
  t.equal(v.out.trim(), pkg.version, 'npx alpamayo-trt --version prints the version');
});

t.test('a build from source builds only the addon and leaves no scratch folders', { skip: process.env.ALPAMAYO_TEST_SOURCE_INSTALL !== '1' && 'set ALPAMAYO_TEST_SOURCE_INSTALL=1 (compiles the addon: minutes)' }, async (t) => {
  const tgz = join(work, `${pkg.name}-${pkg.version}.tgz`);
  if (!existsSync(tgz)) packTarball();
  const app = makeApp('app-source');
  // --foreground-scripts: the build's progress is part of what is checked. The cpu variant keeps it short.
  const install = run(npmCli ? process.execPath : 'npm', [...(npmCli ? [npmCli] : []), 'install', '--foreground-scripts', tgz], {
    cwd: app,
    env: { ...env, ALPAMAYO_TRT_BUILD_FROM_SOURCE: '1', ALPAMAYO_VARIANT: 'cpu' },
  });
  t.equal(install.code, 0, 'npm install with ALPAMAYO_TRT_BUILD_FROM_SOURCE=1 succeeds');
  t.match(install.out, /building from source/);
  t.match(install.out, /addon only/);
  if (install.code !== 0) t.comment(install.out.slice(-4000));
  const installed = join(app, 'node_modules', pkg.name);
  t.ok(existsSync(join(installed, 'build', 'Release', 'alpamayo_trt.node')), 'the addon is in build/Release');
  t.same(readdirSync(join(installed, 'build', 'Release')), ['alpamayo_trt.node'], 'only the addon, no native test binary');
  t.same(readdirSync(installed).filter((f) => /^build-/.test(f)), [], 'no scratch build folders');
  t.same(readdirSync(tmpdir()).filter((f) => f.startsWith('alpamayo-trt-build-')), [], 'the temporary build dir is gone');
  t.comment(`install from source ${(install.ms / 1000).toFixed(1)} s; installed package ${(duBytes(installed) / 2 ** 20).toFixed(1)} MB`);
  const r = run(process.execPath, ['-e', "require('alpamayo-trt').makeCheckpoint(require('os').tmpdir() + '/alpamayo-src-ckpt').then(() => console.log('ok'))"], { cwd: app });
  t.equal(r.out.trim(), 'ok', 'the source-built addon works');
});

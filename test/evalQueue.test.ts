// Distributed evaluation on a real redis-server (started here on a loopback port): `eval --queue` with 3
// `worker` processes, one SIGKILLed in the middle of its first job. Every clip must come back exactly
// once, the killed job from another worker, and the results must equal the single-process run's.
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { realAddonSkip, REAL_ADDON } from './fixtures/parity/parityInputs.js';
import { CLI, makeClips, noBuiltCli } from './fixtures/syntheticClips.js';

const redisServer = process.env.ALPAMAYO_REDIS_SERVER ?? 'redis-server';
const hasRedis = spawnSync(redisServer, ['--version'], { encoding: 'utf8' }).status === 0;
const skip = realAddonSkip() || noBuiltCli || (hasRedis ? false : `${redisServer} not found (apt-get install redis-server)`);
const env = { ...process.env, ALPAMAYO_TRT_NATIVE: REAL_ADDON };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1', () => {
        c.end();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listening on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A child whose stderr lines are collected and can be awaited. */
function track(child: ChildProcess): { lines: string[]; exited: Promise<number | null>; waitFor(re: RegExp, ms: number): Promise<RegExpExecArray> } {
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  let partial = '';
  child.stderr!.on('data', (b: Buffer) => {
    partial += b.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      for (const w of [...waiters]) {
        const m = w.re.exec(l);
        if (m) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    lines,
    exited,
    waitFor: (re, ms) =>
      new Promise((resolve, reject) => {
        const m = lines.map((l) => re.exec(l)).find(Boolean);
        if (m) return resolve(m);
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}`)), ms).unref();
        waiters.push({ re, resolve: (x) => (clearTimeout(timer), resolve(x)) });
      }),
  };
}

type Line = Record<string, unknown> & { clip: string; timings: unknown };
const readLines = (p: string): Line[] => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
const withoutTimings = ({ timings, ...rest }: Line): Record<string, unknown> => (void timings, rest);

// A test's folder with `count` clips and a tiny checkpoint, and a Redis server on a free port (the
// children array is killed at teardown; the caller adds its own processes to it).
async function queueFixture(t: Test, count: number, seed: number) {
  const dir = t.testdir();
  const data = join(dir, 'data');
  const ckpt = join(dir, 'ckpt');
  const children: ChildProcess[] = [];
  t.teardown(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  const port = await freePort();
  const redis = spawn(redisServer, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  children.push(redis);
  makeClips(data, '--count', String(count), '--seed', String(seed), '--width', '96', '--height', '64', '--clips-per-chunk', '3');
  t.equal(spawnSync(process.execPath, [CLI, 'make-checkpoint', ckpt, '--preset', 'tiny', '--seed', '0'], { env }).status, 0);
  return { dir, data, ckpt, children, port, redis };
}

t.test('eval --queue: 3 workers, one killed mid-job', { skip }, async (t) => {
  const { dir, data, ckpt, children, port, redis } = await queueFixture(t, 6, 11);
  const common = ['--checkpoint', ckpt, '--backend', 'cpu', '--threads', '1'];
  const settings = ['--data', data, '--samples', '2', '--max-tokens', '8'];

  const single = spawnSync(process.execPath, [CLI, 'eval', ...common, ...settings, '--out', join(dir, 'single.jsonl')], { env, encoding: 'utf8' });
  t.equal(single.status, 0, single.stderr);
  const want = readLines(join(dir, 'single.jsonl'));
  t.equal(want.length, 6);

  await waitForPort(port, 10_000);
  const url = `redis://127.0.0.1:${port}`;
  const workers = [0, 1, 2].map(() => {
    const c = spawn(process.execPath, [CLI, 'worker', '--queue', url, ...common, '--lock-ms', '1500'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(c);
    return { child: c, ...track(c) };
  });
  await Promise.all(workers.map((w) => w.waitFor(/serving redis/, 60_000)));
  const producer = spawn(process.execPath, [CLI, 'eval', ...settings, '--queue', url, '--out', join(dir, 'dist.jsonl')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(producer);
  const prod = track(producer);
  let stdout = '';
  producer.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));

  // Kill the first worker that starts a job, right at its start (the clip read + decode + plan take far longer).
  const started = await Promise.race(workers.map((w, i) => w.waitFor(/^worker (\d+): start (\S+)$/, 120_000).then((m) => ({ i, clip: m[2]! }))));
  const victim = workers[started.i]!;
  victim.child.kill('SIGKILL');
  await victim.exited;
  t.notOk(victim.lines.some((l) => l.includes(`done ${started.clip}`)), 'the killed worker did not finish its job');

  const code = await Promise.race([prod.exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 240_000).unref())]);
  t.equal(code, 0, prod.lines.join('\n'));
  const survivors = workers.filter((_, i) => i !== started.i);
  const redone = survivors.find((w) => w.lines.some((l) => l.includes(`done ${started.clip}`)));
  t.ok(redone, `the killed job (${started.clip}) was finished by another worker`);
  // A clip that cannot be evaluated fails once, is reported and not written.
  const bad = spawnSync(process.execPath, [CLI, 'eval', ...settings, '--queue', url, '--t0', '9', '--clips', want[0]!.clip, '--out', join(dir, 'bad.jsonl')], { env, encoding: 'utf8' });
  t.equal(bad.status, 1);
  t.match(bad.stderr, /INVALID_INPUT: egomotion: pose time \d+ us is outside the samples/);
  t.notOk(existsSync(join(dir, 'bad.jsonl')), 'nothing written for a failed clip');
  for (const w of survivors) w.child.kill('SIGTERM');
  t.same(await Promise.all(survivors.map((w) => w.exited)), [0, 0], 'workers stop cleanly on SIGTERM');

  const got = readLines(join(dir, 'dist.jsonl'));
  t.equal(got.length, 6, 'nothing lost');
  t.equal(new Set(got.map((l) => l.clip)).size, 6, 'nothing duplicated');
  const byClip = new Map(got.map((l) => [l.clip, withoutTimings(l)]));
  for (const w of want) t.same(byClip.get(w.clip), withoutTimings(w), `${w.clip}: same result as the single-process run`);
  t.match(stdout, /^minADE@6\.4s\s+6\s+/m, 'summary table');
  redis.kill('SIGTERM');
});

// With its only worker SIGKILLed mid-job nothing would ever move the stalled job back (only live
// workers do): eval must not wait forever but fail within --lock-ms (the worker's heartbeat TTL) +
// --worker-timeout with BACKEND_UNAVAILABLE naming the clips that were not evaluated, and exit 1.
t.test('eval --queue: the only worker killed, eval fails within --worker-timeout', { skip }, async (t) => {
  const { dir, data, ckpt, children, port, redis } = await queueFixture(t, 3, 12);
  await waitForPort(port, 10_000);
  const url = `redis://127.0.0.1:${port}`;
  const out = join(dir, 'dist.jsonl');
  const worker = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--checkpoint', ckpt, '--backend', 'cpu', '--threads', '1', '--lock-ms', '1000'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(worker);
  const w = track(worker);
  await w.waitFor(/serving redis/, 60_000);
  const producer = spawn(process.execPath, [CLI, 'eval', '--data', data, '--samples', '2', '--max-tokens', '8', '--queue', url, '--worker-timeout', '2', '--out', out], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(producer);
  const prod = track(producer);

  const started = await w.waitFor(/^worker \d+: start (\S+)$/, 60_000);
  worker.kill('SIGKILL');
  await w.exited;
  const killedAt = Date.now();
  const code = await Promise.race([prod.exited, new Promise<string>((r) => setTimeout(() => r('still running after 30 s'), 30_000).unref())]);
  const waited = Date.now() - killedAt;
  const stderr = prod.lines.join('\n');
  t.equal(code, 1, `eval exits 1 (stderr: ${stderr})`);
  // Bound: heartbeat TTL 1 s + timeout 2 s + one poll; generous slack for a loaded 2-core machine.
  t.ok(waited < 12_000, `eval gave up ${waited} ms after the kill (lock 1 s + timeout 2 s)`);
  const m = /alpamayo-trt: BACKEND_UNAVAILABLE: queue: no live worker on 'alpamayo-eval' for [\d.]+ s \(--worker-timeout 2 s\); (\d+) clip\(s\) not evaluated: ([^.]+)\./.exec(stderr);
  t.ok(m, `the error names the condition (stderr: ${stderr})`);
  const done = existsSync(out) ? readLines(out).map((l) => l.clip) : [];
  const missing = m ? m[2]!.split(', ') : [];
  t.ok(missing.includes(started[1]!), `the killed job's clip ${started[1]} is listed as not evaluated`);
  t.equal(Number(m?.[1]), 3 - done.length, 'every clip not written is listed');
  t.same(missing.filter((c) => done.includes(c)), [], 'no written clip is listed');
  redis.kill('SIGTERM');
});

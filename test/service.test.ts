// Starts examples/service.ts on an ephemeral loopback port (real addon, tiny checkpoint) and checks a
// plan round trip, 503 on a full queue, and that a client disconnect aborts its plan.
import t from 'tap';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { egoHistory, frames } from './fixtures/inputs.js';
import { checkpoint } from './fixtures/realCheckpoint.js';

function body(options: Record<string, unknown>): string {
  const f = frames() as unknown as Record<string, { data: Uint8Array }[]>;
  const wire = Object.fromEntries(Object.entries(f).map(([c, list]) => [c, list.map((x) => ({ ...x, data: Buffer.from(x.data).toString('base64') }))]));
  return JSON.stringify({ frames: wire, egoHistory: egoHistory(), options });
}

function call(port: number, method: string, path: string, payload?: string): { done: Promise<{ status: number; json: any }>; destroy: () => void } {
  const req = request({ host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/json' } });
  const done = new Promise<{ status: number; json: any }>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    req.on('error', reject);
  });
  req.end(payload);
  return { done, destroy: () => req.destroy() };
}

t.test('service: plan, 503 when the queue is full, abort on client disconnect', async (t) => {
  const dir = await checkpoint('tiny');
  const script = fileURLToPath(new URL('../examples/service.ts', import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, script], {
    env: { ...process.env, CHECKPOINT: dir, PORT: '0', HOST: '127.0.0.1', MAX_QUEUE: '1', BACKEND: 'cpu' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    child.kill('SIGTERM');
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('service did not start in 60 s')), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(d.toString());
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`service exited ${code}`)));
  });
  const stats = async (): Promise<any> => (await call(port, 'GET', '/stats').done).json;

  const ok = await call(port, 'POST', '/plan', body({ seed: 1, temperature: 0, maxReasoningTokens: 2, diffusionSteps: 1 })).done;
  t.equal(ok.status, 200);
  t.equal(ok.json.positions.length, 192);

  const bad = await call(port, 'POST', '/plan', body({ samples: 0 })).done;
  t.equal(bad.status, 400);
  t.equal(bad.json.field, 'options.samples');

  // One long plan running + one queued fills MAX_QUEUE=1; the third gets 503.
  const long = { seed: 1, temperature: 0, maxReasoningTokens: 4096, diffusionSteps: 1 };
  const running = call(port, 'POST', '/plan', body(long));
  await new Promise((r) => setTimeout(r, 300));
  const queued = call(port, 'POST', '/plan', body(long));
  await new Promise((r) => setTimeout(r, 300));
  const busy = await call(port, 'POST', '/plan', body(long)).done;
  t.equal(busy.status, 503);
  t.equal(busy.json.error, 'BUSY');
  t.equal((await stats()).pending, 2);

  // Disconnect both clients: the queued plan and the running one are aborted.
  running.done.catch(() => undefined);
  queued.done.catch(() => undefined);
  const t0 = performance.now();
  queued.destroy();
  running.destroy();
  let s = await stats();
  while (s.aborted < 2 && performance.now() - t0 < 15_000) {
    await new Promise((r) => setTimeout(r, 20));
    s = await stats();
  }
  t.comment(`disconnect -> both plans aborted in ${(performance.now() - t0).toFixed(0)} ms`);
  t.equal(s.aborted, 2, 'both disconnected plans were aborted');
  t.equal(s.pending, 0);
  const after = await call(port, 'POST', '/plan', body({ seed: 2, temperature: 0, maxReasoningTokens: 2, diffusionSteps: 1 })).done;
  t.equal(after.status, 200, 'the service keeps serving');
});

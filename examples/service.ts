// A small HTTP JSON planning service around one Planner (node:http only).
//   POST /plan  {frames: {camera: [{width, height, timestampUs, data: <base64 RGB>}]}, egoHistory: [...], options?: {...}}
//     200 {reasoning, positions, timestampsS, t0Us, timings} | 400 invalid input | 503 queue full (Retry-After)
//   GET  /stats {pending, completed, aborted, busy}
// Plans queue FIFO inside the planner; a client that disconnects aborts its plan (queued or running).
// Run from the repo: CHECKPOINT=.cache/tiny node --import=@tapjs/typescript/import examples/service.ts
// (in an app, import from 'alpamayo-trt' and run the compiled file). Env: CHECKPOINT, PORT (0 = ephemeral),
// HOST (default 127.0.0.1), MAX_QUEUE (default 4), BACKEND (default auto).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { AlpamayoError, Planner } from '../lib/index.js';
import type { EgoPose, Frames, PlanOptions } from '../lib/index.js';

const MAX_BODY = 256 * 2 ** 20;
const stats = { completed: 0, aborted: 0, busy: 0 };

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new AlpamayoError(`request body over ${MAX_BODY} bytes`, 'INVALID_INPUT', { field: 'body' });
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new AlpamayoError(`body is not JSON (${(err as Error).message})`, 'INVALID_INPUT', { field: 'body' });
  }
}

/** Base64 frame data -> Uint8Array views over the decoded bytes (no further copies). */
function decodeFrames(raw: any): Frames {
  if (typeof raw !== 'object' || raw === null) return raw;
  const out: Record<string, unknown> = {};
  for (const [cam, list] of Object.entries(raw)) {
    out[cam] = Array.isArray(list)
      ? list.map((f: any) => (f && typeof f.data === 'string' ? { ...f, data: new Uint8Array(Buffer.from(f.data, 'base64')) } : f))
      : list;
  }
  return out as Frames;
}

const STATUS: Partial<Record<string, number>> = { INVALID_INPUT: 400, BUSY: 503, DISPOSED: 503, ABORTED: 499 };

async function handlePlan(planner: Planner, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const controller = new AbortController();
  // 'close' on the response fires when the client goes away before we answered.
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  });
  try {
    const body = await readJson(req);
    const options: PlanOptions = { ...(body.options ?? {}), signal: controller.signal };
    const r = await planner.plan(decodeFrames(body.frames), body.egoHistory as EgoPose[], options);
    stats.completed++;
    send(res, 200, {
      reasoning: r.reasoning,
      positions: Array.from(r.waypoints.positions),
      timestampsS: Array.from(r.waypoints.timestamps),
      t0Us: r.t0Us,
      seed: r.seed,
      timings: r.timings,
    });
  } catch (err) {
    const code = err instanceof AlpamayoError ? err.code : 'INTERNAL';
    if (code === 'ABORTED') stats.aborted++;
    if (code === 'BUSY') stats.busy++;
    const headers: Record<string, string> = code === 'BUSY' ? { 'retry-after': '1' } : {};
    send(res, STATUS[code] ?? 500, { error: code, message: (err as Error).message, field: (err as AlpamayoError).field }, headers);
  }
}

async function main(): Promise<void> {
  const checkpoint = process.env.CHECKPOINT;
  if (!checkpoint) throw new Error('set CHECKPOINT to a checkpoint directory');
  const planner = await Planner.load({
    checkpoint,
    backend: (process.env.BACKEND ?? 'auto') as 'auto',
    maxQueue: Number(process.env.MAX_QUEUE ?? 4),
  });
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/plan') void handlePlan(planner, req, res);
    else if (req.method === 'GET' && req.url === '/stats') send(res, 200, { pending: planner.pending, ...stats });
    else send(res, 404, { error: 'NOT_FOUND' });
  });
  const shutdown = (): void => {
    server.close();
    void planner.dispose();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1', () => {
    const a = server.address();
    console.log(`listening on http://${process.env.HOST ?? '127.0.0.1'}:${typeof a === 'object' && a ? a.port : a}`);
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

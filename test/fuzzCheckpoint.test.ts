// Seeded corruption of one tiny checkpoint, loaded through the public Planner.load: truncated and
// bit-flipped shards, hostile safetensors headers, broken config.json / index, missing tensors and
// tokenizer files. Every variant must reject with INVALID_CHECKPOINT naming the file, tensor or field.
// Files are corrupted in place in one working copy and restored after each case (cheap: failing loads
// stop early). Reproduce with ALPAMAYO_FUZZ_SEED=<seed>.
import t from 'tap';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AlpamayoError } from '../lib/AlpamayoError.js';
import { Planner } from '../lib/Planner.js';
import { checkpoint } from './fixtures/realCheckpoint.js';

const SEED = Number(process.env.ALPAMAYO_FUZZ_SEED ?? 0xc0ffee);
const CASES = Number(process.env.ALPAMAYO_FUZZ_CKPT_CASES ?? 1000);

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Shard {
  name: string;
  bytes: Buffer;
  headerLen: number;
  header: Record<string, any>;
}

function readShard(dir: string, name: string): Shard {
  const bytes = readFileSync(join(dir, name));
  const headerLen = Number(bytes.readBigUInt64LE(0));
  return { name, bytes, headerLen, header: JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8')) };
}

/** A shard with `header` (any JSON value or raw text) and the original data section, optional length prefix override. */
function withHeader(s: Shard, header: unknown, prefix?: bigint): Buffer {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const h = Buffer.from(text, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(prefix ?? BigInt(h.length));
  return Buffer.concat([len, h, s.bytes.subarray(8 + s.headerLen)]);
}

interface Variant {
  file: string;
  content: Buffer | null; // null: delete the file
  what: string;
  /** Something the error message must mention (file, tensor or field). */
  mention: RegExp;
}

t.test(`${CASES} corrupted checkpoints reject with INVALID_CHECKPOINT (seed ${SEED})`, async (t) => {
  const base = await checkpoint('tiny');
  const dir = t.testdir();
  const files = readdirSync(base);
  for (const f of files) copyFileSync(join(base, f), join(dir, f));
  const original = new Map(files.map((f) => [f, readFileSync(join(dir, f))]));
  const shards = files.filter((f) => f.endsWith('.safetensors')).map((f) => readShard(dir, f));
  const config = JSON.parse(original.get('config.json')!.toString('utf8')) as Record<string, any>;
  const index = JSON.parse(original.get('model.safetensors.index.json')!.toString('utf8')) as Record<string, any>;
  const r = rng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const int = (n: number): number => Math.floor(r() * n);
  const esc = (s: string): RegExp => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

  const make = (): Variant => {
    const s = pick(shards);
    const names = Object.keys(s.header).filter((k) => k !== '__metadata__');
    const tensor = pick(names);
    const shardOrTensor = new RegExp(`${esc(s.name).source}|${names.map((n) => esc(n).source).join('|')}|header`);
    const hdr = (): Record<string, any> => structuredClone(s.header);
    switch (int(20)) {
      case 0: {
        // Truncated anywhere before the end of the last tensor.
        const cut = int(s.bytes.length - 1);
        return { file: s.name, content: s.bytes.subarray(0, cut), what: `truncated at ${cut}`, mention: shardOrTensor };
      }
      case 1: {
        // Bit flip in the length prefix (any of its 64 bits but the lowest few that may still parse).
        const b = Buffer.from(s.bytes);
        const bit = 4 + int(60);
        b[bit >> 3]! ^= 1 << (bit & 7);
        return { file: s.name, content: b, what: `length-prefix bit ${bit}`, mention: shardOrTensor };
      }
      case 2: {
        // Bit flip on a structural header byte: a quote, bracket, brace, colon or comma.
        const b = Buffer.from(s.bytes);
        const text = b.subarray(8, 8 + s.headerLen).toString('latin1');
        const spots = [...text.matchAll(/["[\]{}:,]/g)].map((m) => m.index!);
        const at = 8 + pick(spots);
        b[at]! ^= 1 << int(7);
        return { file: s.name, content: b, what: `header byte ${at} flipped`, mention: shardOrTensor };
      }
      case 3: {
        const h = hdr();
        const [a, e] = h[tensor].data_offsets as [number, number];
        const size = s.bytes.length - 8 - s.headerLen;
        h[tensor].data_offsets = pick([[a, size + 1 + int(1000)], [size + 8, size + 8 + (e - a)], [e, a], [a, e + 4], [0, 2 ** 62], [-4, e], [a + 0.5, e]]);
        return { file: s.name, content: withHeader(s, h), what: `offsets ${JSON.stringify(h[tensor].data_offsets)}`, mention: esc(tensor) };
      }
      case 4: {
        const h = hdr();
        h[tensor].shape = pick([[2 ** 62, 2 ** 62], [-1, 4], [2 ** 31, 2 ** 31, 2 ** 31], [0], [1.5], ['4'], null, 7, [...(h[tensor].shape as number[]), 2]]);
        return { file: s.name, content: withHeader(s, h), what: `shape ${JSON.stringify(h[tensor].shape)}`, mention: esc(tensor) };
      }
      case 5: {
        const h = hdr();
        h[tensor].dtype = pick(['Q9', '', 'float32', null, 5, 'I64x']);
        return { file: s.name, content: withHeader(s, h), what: `dtype ${JSON.stringify(h[tensor].dtype)}`, mention: esc(tensor) };
      }
      case 6: {
        const prefix = pick([2n ** 63n, 2n ** 64n - 1n, BigInt(s.bytes.length) + 1n, BigInt(s.bytes.length) * 2n, 0n, 1n, 2n ** 32n]);
        return { file: s.name, content: withHeader(s, s.header, prefix), what: `length prefix ${prefix}`, mention: shardOrTensor };
      }
      case 7: {
        const text = pick(['[]', 'null', '"x"', '{', '{"a":', '{"t":{"dtype":"F32"}}', '1e999', '\u0000'.repeat(16)]);
        return { file: s.name, content: withHeader(s, text), what: `header ${JSON.stringify(text)}`, mention: shardOrTensor };
      }
      case 8: {
        const h = hdr();
        delete h[tensor];
        return { file: s.name, content: withHeader(s, h), what: `missing tensor ${tensor}`, mention: esc(tensor) };
      }
      case 9: {
        const h = hdr();
        delete h[tensor].data_offsets;
        return { file: s.name, content: withHeader(s, h), what: `no data_offsets for ${tensor}`, mention: esc(tensor) };
      }
      case 10: {
        const raw = original.get('config.json')!;
        return { file: 'config.json', content: raw.subarray(0, int(raw.length - 2)), what: 'truncated config.json', mention: /config\.json/ };
      }
      case 11: {
        const c = structuredClone(config);
        const key = pick(['vocab_size', 'traj_vocab_size', 'traj_token_start_idx', 'tokens_per_history_traj', 'tokens_per_future_traj']);
        c[key] = pick(['many', null, [], 1.5, {}]);
        return { file: 'config.json', content: Buffer.from(JSON.stringify(c)), what: `config.${key}=${JSON.stringify(c[key])}`, mention: new RegExp(key) };
      }
      case 12: {
        const c = structuredClone(config);
        const text = c.vlm_config?.text_config ?? c.vlm_config;
        const key = pick(['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'intermediate_size']);
        text[key] = pick(['x', -1, 0, null, 2.5, []]);
        return { file: 'config.json', content: Buffer.from(JSON.stringify(c)), what: `text_config.${key}=${JSON.stringify(text[key])}`, mention: new RegExp(`${key}|tensor|shape`) };
      }
      case 13: {
        const ix = structuredClone(index);
        const k = pick(Object.keys(ix.weight_map));
        // (Dropping an entry is fine: shards' own headers are authoritative.)
        const how = 1 + int(2);
        if (how === 1) ix.weight_map[k] = 'model-00009-of-00009.safetensors';
        else ix.weight_map[k] = pick([null, 3, '../config.json']);
        return { file: 'model.safetensors.index.json', content: Buffer.from(JSON.stringify(ix)), what: `index ${k} (${how})`, mention: new RegExp(`${esc(k).source}|index|safetensors`) };
      }
      case 14: {
        const f = pick(['tokenizer.json', 'model.safetensors.index.json', 'config.json', s.name]);
        return { file: f, content: pick([null, Buffer.alloc(0), Buffer.from('{"truncated":')]), what: `${f} missing/empty/broken`, mention: new RegExp(`${esc(f).source}|${names.map((n) => esc(n).source).join('|')}`) };
      }
      // Issue 19: config.json checked against the tensors and the chat template at load.
      case 15: {
        const c = structuredClone(config);
        c.action_space_cfg = { ...(c.action_space_cfg ?? {}), n_waypoints: pick([32, 1, 63, 65, 128]) };
        return { file: 'config.json', content: Buffer.from(JSON.stringify(c)), what: `n_waypoints ${c.action_space_cfg.n_waypoints}`, mention: /config\.json: action_space_cfg\.n_waypoints/ };
      }
      case 16: {
        const c = structuredClone(config);
        if (r() < 0.5) c.expert_cfg = { ...c.expert_cfg, num_hidden_layers: 1 };
        else c.vlm_config.vision_config = { ...c.vlm_config.vision_config, depth: 1, deepstack_visual_indexes: [0] };
        return { file: 'config.json', content: Buffer.from(JSON.stringify(c)), what: 'fewer layers than the weights', mention: /config\.json: (expert_cfg\.num_hidden_layers|vlm_config\.vision_config\.(depth|deepstack_visual_indexes)): the checkpoint holds/ };
      }
      case 17: {
        const text = pick(['{% for m in messages %}', '{{ messages[0].content ', '{% if %}x{% endif %}', '{{ 1 +* 2 }}', '{% endfor %}']);
        return { file: 'chat_template.jinja', content: Buffer.from(text), what: `chat template ${JSON.stringify(text)}`, mention: /chat_template\.jinja/ };
      }
      case 18:
      case 19: {
        const h = hdr();
        const size = s.bytes.length - 8 - s.headerLen;
        const extra = pick(['extra.weight', 'vlm.model.visual.blocks.99.norm1.weight', 'expert.layers.7.mlp.up_proj.weight', 'action_in_proj.sinus.x.bias']);
        h[extra] = { dtype: 'F32', shape: [1], data_offsets: [size, size + 4] };
        return { file: s.name, content: Buffer.concat([withHeader(s, h), Buffer.alloc(4)]), what: `unused tensor ${extra}`, mention: new RegExp(`never reads \\('${esc(extra).source}'`) };
      }
      default: {
        const f = pick(['tokenizer.json', 'config.json']);
        const raw = original.get(f)!;
        return { file: f, content: pick([null, raw.subarray(0, int(raw.length - 1)), Buffer.from('[1,2')]), what: `${f} missing or cut`, mention: new RegExp(esc(f).source) };
      }
    }
  };

  const kinds: Record<string, number> = {};
  let failures = 0;
  const t0 = performance.now();
  for (let n = 0; n < CASES; n++) {
    const v = make();
    if (v.content === null) rmSync(join(dir, v.file));
    else writeFileSync(join(dir, v.file), v.content);
    let err: unknown;
    try {
      const p = await Planner.load({ checkpoint: dir, backend: 'cpu', threads: 1 });
      await p.dispose();
    } catch (e) {
      err = e;
    }
    writeFileSync(join(dir, v.file), original.get(v.file)!);
    const kind = v.what.replace(/[\d.-]+|"[^"]*"|\[.*\]| \S+\.\S+$/g, '#');
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    const ok = err instanceof AlpamayoError && err.code === 'INVALID_CHECKPOINT' && v.mention.test(err.message);
    if (!ok && failures++ < 25) {
      t.fail(`case ${n} ${v.what}: ${err === undefined ? 'loaded fine' : `${(err as AlpamayoError).code} ${(err as Error).message?.slice(0, 300)}`}`);
    }
  }
  const ms = performance.now() - t0;
  t.comment(`${CASES} variants in ${(ms / 1000).toFixed(1)} s (${(ms / CASES).toFixed(1)} ms per failing load); ${Object.keys(kinds).length} kinds`);
  t.comment(`kinds: ${JSON.stringify(kinds)}`);
  t.equal(failures, 0, 'every variant rejected with INVALID_CHECKPOINT naming the file, tensor or field');
  // The restored copy loads: the corruption, not the harness, caused each rejection.
  const p = await Planner.load({ checkpoint: dir, backend: 'cpu', threads: 1 });
  await p.dispose();
});

t.test('config sizes that disagree with the stored tensors are INVALID_CHECKPOINT at load', async (t) => {
  const base = await checkpoint('tiny');
  const dir = t.testdir();
  for (const f of readdirSync(base)) copyFileSync(join(base, f), join(dir, f));
  const config = JSON.parse(readFileSync(join(base, 'config.json'), 'utf8')) as Record<string, any>;
  for (const [path, value] of [['vlm_config.text_config.intermediate_size', 2 ** 40], ['vlm_config.text_config.num_attention_heads', 2 ** 40], ['tokens_per_future_traj', -5]] as const) {
    const c = structuredClone(config);
    const keys = path.split('.');
    let o: Record<string, any> = c;
    for (const k of keys.slice(0, -1)) o = o[k] ?? o;
    o[keys[keys.length - 1]!] = value;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
    const err = await Planner.load({ checkpoint: dir, backend: 'cpu', threads: 1 }).then(
      (p) => p.dispose().then(() => undefined),
      (e: unknown) => e as AlpamayoError,
    );
    t.equal(err?.code, 'INVALID_CHECKPOINT', `${path}=${value}`);
  }
});

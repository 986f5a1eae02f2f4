import { Template } from '@huggingface/jinja';
import { AlpamayoError } from './AlpamayoError.js';
import type { CheckpointTokenizer } from './loadCheckpointTokenizer.js';

/** System turn of the official prompt (model-spec §2.2). */
export const SYSTEM_PROMPT = 'You are a driving assistant that generates safe and accurate actions.';
/** Instruction after the history placeholder (model-spec §2.2). */
export const INSTRUCTION = 'output the chain-of-thought reasoning of the driving process, then output the future trajectory.';
/** History placeholder tokens per prompt: 16 poses x (x, y, z). */
export const HISTORY_TOKEN_COUNT = 48;

/** Special tokens the prompt is built from. */
export const TOKENS = {
  imagePad: '<|image_pad|>',
  historyStart: '<|traj_history_start|>',
  history: '<|traj_history|>',
  historyEnd: '<|traj_history_end|>',
  cotStart: '<|cot_start|>',
  cotEnd: '<|cot_end|>',
  futureStart: '<|traj_future_start|>',
} as const;

/** A chat message in the Hugging Face multimodal format. @internal */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: ({ type: 'text'; text: string } | { type: 'image' })[];
}

/**
 * The official Alpamayo chat: system text; user = `imageCount` image items then history placeholder +
 * instruction; assistant prefilled with `<|cot_start|>`. The released model has no navigation input,
 * so a `command` is our extension: appended to the user text after the instruction, separated by a space.
 * @internal
 */
export function promptMessages(imageCount: number, command?: string): ChatMessage[] {
  const history = TOKENS.historyStart + TOKENS.history.repeat(HISTORY_TOKEN_COUNT) + TOKENS.historyEnd;
  const text = history + INSTRUCTION + (command ? ` ${command}` : '');
  return [
    { role: 'system', content: [{ type: 'text', text: SYSTEM_PROMPT }] },
    { role: 'user', content: [...Array.from({ length: imageCount }, () => ({ type: 'image' as const })), { type: 'text', text }] },
    { role: 'assistant', content: [{ type: 'text', text: TOKENS.cotStart }] },
  ];
}

/**
 * Renders `messages` with the checkpoint's template, `add_generation_prompt=false` and
 * `continue_final_message=true`. As in transformers, the output is cut right after the final message's
 * text, so templates that ignore `continue_final_message` still leave the assistant turn open.
 * @internal
 */
export function renderChat(template: string, messages: ChatMessage[], extra: Record<string, unknown> = {}): string {
  let rendered: string;
  try {
    rendered = new Template(template).render({ messages, add_generation_prompt: false, continue_final_message: true, ...extra });
  } catch (err) {
    throw new AlpamayoError(`chat template: rendering failed (${(err as Error).message})`, 'INVALID_CHECKPOINT', { field: 'chat_template', cause: err });
  }
  const last = messages[messages.length - 1]?.content.at(-1);
  const finalText = last && last.type === 'text' ? last.text.trim() : '';
  const at = finalText ? rendered.lastIndexOf(finalText) : -1;
  if (finalText && at < 0) {
    throw new AlpamayoError(`chat template: rendered prompt does not contain the final message '${finalText}'`, 'INVALID_CHECKPOINT', {
      field: 'chat_template',
      expected: finalText,
      actual: rendered.slice(-200),
    });
  }
  return at >= 0 ? rendered.slice(0, at + finalText.length) : rendered;
}

function requireToken(tok: CheckpointTokenizer, content: string): number {
  const id = tok.addedTokens.get(content) ?? tok.tokenizer.token_to_id(content);
  if (id === undefined) {
    throw new AlpamayoError(`tokenizer.json: special token ${content} is missing`, 'INVALID_CHECKPOINT', {
      field: `tokenizer.json:${content}`,
      expected: 'present',
      actual: 'missing',
    });
  }
  return id;
}

/** Ids of the special tokens the planner relies on. @internal */
export function specialTokenIds(tok: CheckpointTokenizer): Record<keyof typeof TOKENS, number> {
  const out = {} as Record<keyof typeof TOKENS, number>;
  for (const [key, content] of Object.entries(TOKENS) as [keyof typeof TOKENS, string][]) out[key] = requireToken(tok, content);
  return out;
}

/** The rendered, tokenized chat for one (image count, command): the same for every plan that shares them. */
interface TemplateIds {
  raw: Int32Array;
  special: Record<keyof typeof TOKENS, number>;
}

/** Most distinct commands whose rendered prompts one tokenizer keeps (oldest evicted first). */
const TEMPLATE_CACHE_SIZE = 32;
const templateCaches = new WeakMap<CheckpointTokenizer, Map<string, TemplateIds>>();

// Rendering the Jinja template and running the BPE tokenizer cost ~2 ms and most of a plan's JS garbage;
// only the 48 history ids and the image-pad run lengths change from plan to plan, so the rest is cached
// per tokenizer and command.
function templateIds(tok: CheckpointTokenizer, imageCount: number, command: string | undefined): TemplateIds {
  let cache = templateCaches.get(tok);
  if (!cache) templateCaches.set(tok, (cache = new Map()));
  const key = `${imageCount}\u0000${command ?? ''}`;
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key); // re-insert: Map order is the eviction order
    cache.set(key, hit);
    return hit;
  }
  const special = specialTokenIds(tok);
  const text = renderChat(tok.chatTemplate, promptMessages(imageCount, command), {
    bos_token: tok.bosToken ?? '',
    eos_token: tok.eosToken ?? '',
  });
  // Typed explicitly: the package's .d.ts uses extensionless imports that NodeNext resolves to `any`.
  const raw: number[] = tok.tokenizer.encode(text, { add_special_tokens: false }).ids;
  const pads = raw.filter((id) => id === special.imagePad).length;
  if (pads !== imageCount) {
    throw new AlpamayoError(
      `chat template: expected one ${TOKENS.imagePad} per image (${imageCount}), the rendered prompt has ${pads}`,
      'INVALID_CHECKPOINT',
      { field: 'chat_template', expected: imageCount, actual: pads },
    );
  }
  const history = raw.filter((id) => id === special.history).length;
  if (history !== HISTORY_TOKEN_COUNT) {
    throw new AlpamayoError(`prompt: expected ${HISTORY_TOKEN_COUNT} ${TOKENS.history} tokens, found ${history}`, 'INVALID_CHECKPOINT', {
      field: 'tokenizer.json',
      expected: HISTORY_TOKEN_COUNT,
      actual: history,
    });
  }
  const entry = { raw: Int32Array.from(raw), special };
  cache.set(key, entry);
  if (cache.size > TEMPLATE_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  return entry;
}

/**
 * Token ids of the full prompt: rendered chat, each image's `<|image_pad|>` repeated to its token count,
 * and the 48 `<|traj_history|>` placeholders replaced by the ego-history token ids.
 * @internal
 */
export function buildPromptIds(
  tok: CheckpointTokenizer,
  opts: { imageTokenCounts: readonly number[]; historyIds: ArrayLike<number>; command?: string },
): Int32Array {
  if (opts.historyIds.length !== HISTORY_TOKEN_COUNT) {
    throw new AlpamayoError(`history token ids: expected ${HISTORY_TOKEN_COUNT}, got ${opts.historyIds.length}`, 'INTERNAL', {
      field: 'historyIds',
      expected: HISTORY_TOKEN_COUNT,
      actual: opts.historyIds.length,
    });
  }
  const { raw, special } = templateIds(tok, opts.imageTokenCounts.length, opts.command);
  let total = raw.length - opts.imageTokenCounts.length;
  for (const n of opts.imageTokenCounts) total += n;
  const out = new Int32Array(total);
  let at = 0;
  let image = 0;
  let history = 0;
  for (const id of raw) {
    if (id === special.imagePad) {
      const n = opts.imageTokenCounts[image++] as number;
      out.fill(id, at, at + n);
      at += n;
    } else if (id === special.history) {
      out[at++] = opts.historyIds[history++] as number;
    } else out[at++] = id;
  }
  return out;
}

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

/**
 * Token ids of the full prompt: rendered chat, each image's `<|image_pad|>` repeated to its token count,
 * and the 48 `<|traj_history|>` placeholders replaced by the ego-history token ids.
 * @internal
 */
export function buildPromptIds(
  tok: CheckpointTokenizer,
  opts: { imageTokenCounts: readonly number[]; historyIds: ArrayLike<number>; command?: string },
): Int32Array {
  const ids = specialTokenIds(tok);
  const text = renderChat(tok.chatTemplate, promptMessages(opts.imageTokenCounts.length, opts.command), {
    bos_token: tok.bosToken ?? '',
    eos_token: tok.eosToken ?? '',
  });
  // Typed explicitly: the package's .d.ts uses extensionless imports that NodeNext resolves to `any`.
  const raw: number[] = tok.tokenizer.encode(text, { add_special_tokens: false }).ids;
  const pads = raw.filter((id) => id === ids.imagePad).length;
  if (pads !== opts.imageTokenCounts.length) {
    throw new AlpamayoError(
      `chat template: expected one ${TOKENS.imagePad} per image (${opts.imageTokenCounts.length}), the rendered prompt has ${pads}`,
      'INVALID_CHECKPOINT',
      { field: 'chat_template', expected: opts.imageTokenCounts.length, actual: pads },
    );
  }
  if (opts.historyIds.length !== HISTORY_TOKEN_COUNT) {
    throw new AlpamayoError(`history token ids: expected ${HISTORY_TOKEN_COUNT}, got ${opts.historyIds.length}`, 'INTERNAL', {
      field: 'historyIds',
      expected: HISTORY_TOKEN_COUNT,
      actual: opts.historyIds.length,
    });
  }
  const out: number[] = [];
  let image = 0;
  let history = 0;
  for (const id of raw) {
    if (id === ids.imagePad) {
      for (let k = 0; k < (opts.imageTokenCounts[image] as number); k++) out.push(id);
      image++;
    } else if (id === ids.history) {
      if (history < HISTORY_TOKEN_COUNT) out.push(opts.historyIds[history] as number);
      history++;
    } else out.push(id);
  }
  if (history !== HISTORY_TOKEN_COUNT) {
    throw new AlpamayoError(`prompt: expected ${HISTORY_TOKEN_COUNT} ${TOKENS.history} tokens, found ${history}`, 'INVALID_CHECKPOINT', {
      field: 'tokenizer.json',
      expected: HISTORY_TOKEN_COUNT,
      actual: history,
    });
  }
  return Int32Array.from(out);
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { AlpamayoError } from './AlpamayoError.js';

/** A checkpoint's tokenizer, its chat template and its added-token ids. @internal */
export interface CheckpointTokenizer {
  tokenizer: Tokenizer;
  chatTemplate: string;
  /** The file the chat template was read from (named in template errors). */
  chatTemplateFile: string;
  /** Every added token (content -> id), e.g. `<|cot_start|>`. */
  addedTokens: Map<string, number>;
  bosToken?: string;
  eosToken?: string;
}

async function readJson(path: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AlpamayoError(`${path}: cannot read (${(err as Error).message})`, 'INVALID_CHECKPOINT', { field: path, cause: err });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new AlpamayoError(`${path}: invalid JSON (${(err as Error).message})`, 'INVALID_CHECKPOINT', { field: path, cause: err });
  }
}

async function readOptionalText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/**
 * Reads tokenizer.json (+ tokenizer_config.json when present) and the chat template, looked up in
 * order: chat_template.jinja, chat_template.json (`chat_template` field), tokenizer_config.json
 * (`chat_template` field).
 * @throws AlpamayoError `INVALID_CHECKPOINT` naming the missing or broken file.
 * @internal
 */
export async function loadCheckpointTokenizer(dir: string): Promise<CheckpointTokenizer> {
  const tokenizerJson = (await readJson(join(dir, 'tokenizer.json'), true)) as Record<string, unknown>;
  const config = (await readJson(join(dir, 'tokenizer_config.json'), false)) ?? {};
  let chatTemplate = await readOptionalText(join(dir, 'chat_template.jinja'));
  let chatTemplateFile = join(dir, 'chat_template.jinja');
  if (chatTemplate === undefined) {
    const json = await readJson(join(dir, 'chat_template.json'), false);
    if (typeof json?.chat_template === 'string') {
      chatTemplate = json.chat_template;
      chatTemplateFile = join(dir, 'chat_template.json');
    }
  }
  if (chatTemplate === undefined && typeof config.chat_template === 'string') {
    chatTemplate = config.chat_template;
    chatTemplateFile = join(dir, 'tokenizer_config.json');
  }
  if (chatTemplate === undefined) {
    throw new AlpamayoError(
      `${dir}: no chat template; expected chat_template.jinja, chat_template.json or a chat_template field in tokenizer_config.json`,
      'INVALID_CHECKPOINT',
      { field: join(dir, 'chat_template.jinja'), expected: 'a Jinja chat template', actual: 'missing' },
    );
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, config);
  } catch (err) {
    throw new AlpamayoError(`${join(dir, 'tokenizer.json')}: not a usable tokenizer (${(err as Error).message})`, 'INVALID_CHECKPOINT', {
      field: join(dir, 'tokenizer.json'),
      cause: err,
    });
  }
  const addedTokens = new Map<string, number>();
  const added = Array.isArray(tokenizerJson.added_tokens) ? (tokenizerJson.added_tokens as { id?: unknown; content?: unknown }[]) : [];
  for (const t of added) if (typeof t.content === 'string' && typeof t.id === 'number') addedTokens.set(t.content, t.id);
  const out: CheckpointTokenizer = { tokenizer, chatTemplate, chatTemplateFile, addedTokens };
  const bos = tokenText(config.bos_token);
  const eos = tokenText(config.eos_token);
  if (bos !== undefined) out.bosToken = bos;
  if (eos !== undefined) out.eosToken = eos;
  return out;
}

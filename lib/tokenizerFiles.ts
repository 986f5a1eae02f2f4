import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AlpamayoError } from './AlpamayoError.js';
import { byteLevelAlphabet } from './byteLevelAlphabet.js';

/** One added token of a checkpoint's vocabulary (as returned by the addon's `tokenLayout(preset)`). */
export interface TokenLayoutEntry {
  /** Literal text of the token, e.g. `<|cot_start|>`. */
  content: string;
  /** Its id (>= 256; ids 0..255 are the byte tokens). */
  id: number;
  /** Special tokens are dropped by `decode(..., { skip_special_tokens: true })`. */
  special: boolean;
}

/**
 * A Qwen-VL-style ChatML template: `<|im_start|>role\n...<|im_end|>\n` turns, image items as
 * `<|vision_start|><|image_pad|><|vision_end|>`, and `continue_final_message` leaving the last turn
 * open (no `<|im_end|>`) so generation continues it. Written into test checkpoints; the planner
 * always renders whatever template the checkpoint ships.
 */
export const CHATML_VL_TEMPLATE = [
  "{%- for message in messages -%}",
  "{%- if loop.first and message.role != 'system' -%}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif -%}",
  "{{ '<|im_start|>' + message.role + '\\n' }}",
  "{%- if message.content is string -%}{{ message.content }}",
  "{%- else -%}{%- for item in message.content -%}",
  "{%- if item.type == 'image' or 'image' in item -%}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}",
  "{%- elif item.type == 'text' -%}{{ item.text }}",
  "{%- endif -%}{%- endfor -%}{%- endif -%}",
  "{%- if not (loop.last and continue_final_message) -%}{{ '<|im_end|>\\n' }}{%- endif -%}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt and not continue_final_message -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}",
].join('\n');

/** The tokenizer.json object for a byte-level BPE with no merges plus `layout` as added tokens. @internal */
export function byteLevelTokenizerJson(layout: readonly TokenLayoutEntry[]): object {
  const seen = new Map<number, string>();
  for (const t of layout) {
    if (!Number.isInteger(t.id) || t.id < 256) {
      throw new AlpamayoError(`token layout: '${t.content}' has id ${t.id}; expected an integer >= 256 (0..255 are byte tokens)`, 'INVALID_INPUT', {
        field: `layout.${t.content}`,
        expected: '>= 256',
        actual: t.id,
      });
    }
    const clash = seen.get(t.id);
    if (clash !== undefined) {
      throw new AlpamayoError(`token layout: id ${t.id} used by both '${clash}' and '${t.content}'`, 'INVALID_INPUT', {
        field: `layout.${t.content}`,
        expected: 'unique ids',
        actual: t.id,
      });
    }
    seen.set(t.id, t.content);
  }
  const vocab: Record<string, number> = {};
  byteLevelAlphabet().forEach((ch, b) => (vocab[ch] = b));
  // Added tokens are also listed in the model vocab: the Rust `tokenizers` loader keeps an added token's
  // id only when the model already maps its content to that id, and otherwise renumbers it after the
  // vocab, which would break layouts with gaps. Without merges BPE can never produce these entries.
  for (const t of layout) vocab[t.content] = t.id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...layout]
      .sort((a, b) => a.id - b.id)
      .map((t) => ({ id: t.id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t.special })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

/**
 * Writes tokenizer.json (byte-level BPE: 256 byte tokens with ids 0..255, no merges, plus every
 * entry of `layout` as an added token with its exact id), tokenizer_config.json and
 * chat_template.jinja ({@link CHATML_VL_TEMPLATE}) into `dir` (created if missing). Used to complete
 * generated test checkpoints; real checkpoints ship their own files.
 */
export async function writeTokenizerFiles(dir: string, layout: readonly TokenLayoutEntry[]): Promise<void> {
  const tokenizer = byteLevelTokenizerJson(layout);
  const has = (content: string): boolean => layout.some((t) => t.content === content);
  const config = {
    tokenizer_class: 'Qwen2Tokenizer',
    model_max_length: 262144,
    clean_up_tokenization_spaces: false,
    split_special_tokens: false,
    bos_token: null,
    eos_token: has('<|im_end|>') ? '<|im_end|>' : null,
    pad_token: has('<|endoftext|>') ? '<|endoftext|>' : null,
    added_tokens_decoder: Object.fromEntries(
      layout.map((t) => [String(t.id), { content: t.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: t.special }]),
    ),
  };
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer) + '\n');
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
  await writeFile(join(dir, 'chat_template.jinja'), CHATML_VL_TEMPLATE + '\n');
}

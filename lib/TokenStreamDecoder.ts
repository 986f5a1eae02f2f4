import type { Tokenizer } from '@huggingface/tokenizers';

/**
 * Turns a growing list of generated token ids into text pieces for streaming. Each push decodes the
 * whole reasoning so far (byte-level BPE pieces can split a UTF-8 character, so per-token decoding is
 * wrong) and returns only the new suffix. A trailing U+FFFD is held back because it may be the first
 * bytes of a character whose remaining bytes arrive with the next token. Reasoning ends at the first
 * stop id (`<|cot_end|>` / `<|traj_future_start|>`); later ids are ignored.
 * @internal
 */
export class TokenStreamDecoder {
  readonly #tokenizer: Tokenizer;
  readonly #stopIds: ReadonlySet<number>;
  readonly #ids: number[] = [];
  #emitted = 0;
  #stopped = false;

  constructor(tokenizer: Tokenizer, stopIds: Iterable<number>) {
    this.#tokenizer = tokenizer;
    this.#stopIds = new Set(stopIds);
  }

  /** Whether a stop id has been seen. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Adds ids; returns the newly decodable text ('' when nothing new is safe to emit). */
  push(ids: ArrayLike<number>): string {
    if (this.#stopped) return '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (this.#stopIds.has(id)) {
        this.#stopped = true;
        break;
      }
      this.#ids.push(id);
    }
    const text = this.#decode();
    let end = text.length;
    if (!this.#stopped) while (end > this.#emitted && text.charCodeAt(end - 1) === 0xfffd) end--;
    if (end <= this.#emitted) return '';
    const piece = text.slice(this.#emitted, end);
    this.#emitted = end;
    return piece;
  }

  /** Everything decoded so far (including any held-back tail). */
  get text(): string {
    return this.#decode();
  }

  #decode(): string {
    return this.#tokenizer.decode(this.#ids, { skip_special_tokens: true });
  }
}

/** Reasoning text of a finished sample: ids up to the first stop id, special tokens removed, trimmed. @internal */
export function decodeReasoning(tokenizer: Tokenizer, ids: ArrayLike<number>, stopIds: Iterable<number>): string {
  const decoder = new TokenStreamDecoder(tokenizer, stopIds);
  decoder.push(ids);
  return decoder.text.trim();
}

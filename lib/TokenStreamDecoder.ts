import type { Tokenizer } from '@huggingface/tokenizers';
import { EdgeStripper, pyStrip } from './stripEdges.js';

/**
 * Turns a growing list of generated token ids into text pieces for streaming. Byte-level BPE pieces can
 * split a UTF-8 character, so ids are decoded together from the last point where the text was whole:
 * a trailing U+FFFD is held back because it may be the first bytes of a character whose remaining bytes
 * arrive with the next token. Once the pending ids decode to whole characters they are committed and
 * never decoded again, so a push costs O(new ids), not O(all ids): decoding everything on every token
 * made streaming quadratic and blocked the event loop for tens of milliseconds per token burst.
 * Reasoning ends at the first stop id (`<|cot_end|>` / `<|traj_future_start|>`); later ids are ignored.
 * The pieces `push` returns hold back edge whitespace, so they concatenate to exactly the stripped
 * reasoning ({@link decodeReasoning}); `text` is the raw decoded text.
 * @internal
 */
export class TokenStreamDecoder {
  readonly #tokenizer: Tokenizer;
  readonly #stopIds: ReadonlySet<number>;
  /** Text of ids already committed (they ended on a character boundary). */
  #committed = '';
  /** Ids after the last character boundary, and how much of their text was already emitted. */
  #pending: number[] = [];
  #pendingEmitted = 0;
  #stopped = false;
  readonly #edges = new EdgeStripper();

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
      this.#pending.push(id);
    }
    const tail = this.#decode(this.#pending);
    let end = tail.length;
    if (!this.#stopped) while (end > this.#pendingEmitted && tail.charCodeAt(end - 1) === 0xfffd) end--;
    const piece = end > this.#pendingEmitted ? tail.slice(this.#pendingEmitted, end) : '';
    if (end === tail.length) {
      this.#committed += tail;
      this.#pending = [];
      this.#pendingEmitted = 0;
    } else {
      this.#pendingEmitted = Math.max(this.#pendingEmitted, end);
    }
    return this.#edges.push(piece);
  }

  /** Everything decoded so far (including any held-back tail). */
  get text(): string {
    return this.#committed + this.#decode(this.#pending);
  }

  #decode(ids: number[]): string {
    return ids.length === 0 ? '' : this.#tokenizer.decode(ids, { skip_special_tokens: true });
  }
}

/**
 * Reasoning text of a finished sample: ids up to the first stop id, special tokens removed, edges
 * stripped as Python's `str.strip()` does (the official `extract_between_special_tokens`). @internal
 */
export function decodeReasoning(tokenizer: Tokenizer, ids: ArrayLike<number>, stopIds: Iterable<number>): string {
  const decoder = new TokenStreamDecoder(tokenizer, stopIds);
  decoder.push(ids);
  return pyStrip(decoder.text);
}

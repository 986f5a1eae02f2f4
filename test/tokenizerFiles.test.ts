import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { writeTokenizerFiles } from '../lib/tokenizerFiles.js';
import { byteLevelAlphabet } from '../lib/byteLevelAlphabet.js';
import { loadCheckpointTokenizer } from '../lib/loadCheckpointTokenizer.js';
import { LAYOUT, ID } from './fixtures/tokenLayout.js';

t.test('GPT-2 byte alphabet', async (t) => {
  const a = byteLevelAlphabet();
  t.equal(a.length, 256);
  t.equal(new Set(a).size, 256);
  t.equal(a[0x41], 'A');
  t.equal(a[0x20], 'Ġ'); // space -> U+0120
  t.equal(a[0x0a], 'Ċ'); // newline -> U+010A
  t.equal(a[0], 'Ā'); // U+0100
  t.equal(a[0xad], 'Ń'); // soft hyphen is the last remapped byte: U+0143
});

t.test('writeTokenizerFiles round trip', async (t) => {
  const dir = t.testdir();
  await writeTokenizerFiles(dir, LAYOUT);
  const json = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
  t.equal(json.model.type, 'BPE');
  t.same(json.model.merges, []);
  t.equal(json.pre_tokenizer.type, 'ByteLevel');
  t.equal(json.decoder.type, 'ByteLevel');
  t.same(
    json.added_tokens.map((a: { id: number; content: string }) => [a.content, a.id]),
    LAYOUT.map((l) => [l.content, l.id]),
  );
  const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
  t.equal(config.eos_token, '<|im_end|>');
  t.equal(config.added_tokens_decoder['322'].content, '<|cot_start|>');
  t.match(await readFile(join(dir, 'chat_template.jinja'), 'utf8'), /<\|im_start\|>/);

  const { tokenizer, addedTokens } = await loadCheckpointTokenizer(dir);
  for (const l of LAYOUT) {
    t.equal(tokenizer.token_to_id(l.content), l.id, `id of ${l.content}`);
    t.equal(addedTokens.get(l.content), l.id);
  }
  const text = 'Hello <|cot_start|>wörld 🚗<|im_end|>\nok';
  const enc = tokenizer.encode(text, { add_special_tokens: false });
  // Golden ids from the Rust `tokenizers` library (Python binding 0.22) on the same tokenizer.json.
  t.same(enc.ids, [72, 101, 108, 108, 111, 32, 322, 119, 195, 182, 114, 108, 100, 32, 240, 159, 154, 151, 304, 10, 111, 107]);
  t.equal(tokenizer.decode(enc.ids), text);
  t.equal(tokenizer.decode(enc.ids, { skip_special_tokens: true }), 'Hello wörld 🚗\nok');
  // <iN> are added tokens but not special, so they survive skip_special_tokens.
  t.equal(tokenizer.decode([ID['<i1>']!, 65], { skip_special_tokens: true }), '<i1>A');
});

t.test('plain JS Tokenizer agrees on every byte', async (t) => {
  const dir = t.testdir();
  await writeTokenizerFiles(dir, LAYOUT);
  // With the written tokenizer_config.json: its clean_up_tokenization_spaces=false keeps ' !' intact.
  const tok = new Tokenizer(
    JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')),
  );
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const text = new TextDecoder('latin1').decode(bytes);
  const ids = tok.encode(text, { add_special_tokens: false }).ids;
  // Latin-1 chars >= 0x80 are 2 UTF-8 bytes, so: 128 single bytes + 128 pairs.
  t.equal(ids.length, 128 + 2 * 128);
  t.ok(ids.every((id: number) => id >= 0 && id < 256));
  t.equal(tok.decode(ids), text);
});

t.test('layout errors', async (t) => {
  await t.rejects(writeTokenizerFiles(t.testdir(), [{ content: '<x>', id: 65, special: true }]), { code: 'INVALID_INPUT', message: /id 65; expected an integer >= 256/ });
  await t.rejects(
    writeTokenizerFiles(t.testdir(), [
      { content: '<a>', id: 300, special: true },
      { content: '<b>', id: 300, special: true },
    ]),
    { code: 'INVALID_INPUT', message: /id 300 used by both '<a>' and '<b>'/ },
  );
});

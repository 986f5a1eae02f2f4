import t from 'tap';
import { loadCheckpointTokenizer } from '../lib/loadCheckpointTokenizer.js';
import { writeTokenizerFiles } from '../lib/tokenizerFiles.js';
import { decodeReasoning, TokenStreamDecoder } from '../lib/TokenStreamDecoder.js';
import { ID, LAYOUT } from './fixtures/tokenLayout.js';

t.test('streams text in order, holding back split UTF-8 characters', async (t) => {
  const dir = t.testdir();
  await writeTokenizerFiles(dir, LAYOUT);
  const { tokenizer } = await loadCheckpointTokenizer(dir);
  const stops = [ID['<|cot_end|>']!, ID['<|traj_future_start|>']!];
  const text = 'Brake: 🚗 ahead, ö.';
  const ids = Array.from(new TextEncoder().encode(text)); // byte tokens: ids = byte values
  const decoder = new TokenStreamDecoder(tokenizer, stops);
  const pieces: string[] = [];
  for (const id of ids) pieces.push(decoder.push([id]));
  t.equal(pieces.join(''), text);
  t.notOk(pieces.some((p) => p.includes('\uFFFD')), 'no replacement characters leak out');
  // The car emoji is 4 bytes: nothing is emitted until its last byte arrives (with the space before it,
  // which is held back until non-whitespace text follows).
  const carStart = ids.indexOf(0xf0);
  t.same(pieces.slice(carStart - 1, carStart + 4), ['', '', '', '', ' 🚗']);
  // Stop token ends the stream; later ids are ignored.
  t.equal(decoder.push([ID['<|cot_end|>']!, 65, 66]), '');
  t.ok(decoder.stopped);
  t.equal(decoder.text, text);
});

t.test('decodeReasoning drops specials and stops at the first stop id', async (t) => {
  const dir = t.testdir();
  await writeTokenizerFiles(dir, LAYOUT);
  const { tokenizer } = await loadCheckpointTokenizer(dir);
  const ids = [ID['<|cot_start|>']!, ...new TextEncoder().encode(' go straight '), ID['<|cot_end|>']!, ID['<|traj_future_start|>']!, 65];
  t.equal(decodeReasoning(tokenizer, ids, [ID['<|cot_end|>']!, ID['<|traj_future_start|>']!]), 'go straight');
});

t.test('streamed pieces concatenate to exactly the stripped reasoning (edge whitespace held back)', async (t) => {
  const dir = t.testdir();
  await writeTokenizerFiles(dir, LAYOUT);
  const { tokenizer } = await loadCheckpointTokenizer(dir);
  const stops = [ID['<|cot_end|>']!, ID['<|traj_future_start|>']!];
  // Python's str.isspace set at the edges (\x1c and \x85 are whitespace there, not in JS trim());
  // inner whitespace runs are kept.
  for (const text of ['  \n Slow down  for the  cyclist. \t\n', '\x1c go\x85', ' \u3000 ', 'keep lane', '\ufeffx ']) {
    const ids = Array.from(new TextEncoder().encode(text));
    for (const chunk of [1, 2, 3]) {
      const decoder = new TokenStreamDecoder(tokenizer, stops);
      const pieces: string[] = [];
      for (let i = 0; i < ids.length; i += chunk) pieces.push(decoder.push(ids.slice(i, i + chunk)));
      pieces.push(decoder.push([ID['<|cot_end|>']!]));
      const reasoning = decodeReasoning(tokenizer, [...ids, ID['<|cot_end|>']!], stops);
      t.equal(pieces.join(''), reasoning, `${JSON.stringify(text)} in chunks of ${chunk}`);
    }
  }
  // Golden values of Python's str.strip() (the official extract_between_special_tokens).
  t.equal(decodeReasoning(tokenizer, [...new TextEncoder().encode('\x1c go\x85'), ID['<|cot_end|>']!], stops), 'go');
  t.equal(decodeReasoning(tokenizer, [...new TextEncoder().encode('\ufeffx '), ID['<|cot_end|>']!], stops), '\ufeffx');
  t.equal(decodeReasoning(tokenizer, [...new TextEncoder().encode(' \u3000 '), ID['<|cot_end|>']!], stops), '');
});

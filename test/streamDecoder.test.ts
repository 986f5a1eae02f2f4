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
  // The car emoji is 4 bytes: nothing is emitted until its last byte arrives.
  const carStart = ids.indexOf(0xf0);
  t.same(pieces.slice(carStart, carStart + 4), ['', '', '', '🚗']);
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

import t from 'tap';
import { buildPromptIds, HISTORY_TOKEN_COUNT, INSTRUCTION, promptMessages, renderChat, SYSTEM_PROMPT } from '../lib/buildPrompt.js';
import { imageTokenCount, smartResize, visionSettingsFromConfig } from '../lib/imageTokenCount.js';
import { loadCheckpointTokenizer } from '../lib/loadCheckpointTokenizer.js';
import { CHATML_VL_TEMPLATE, writeTokenizerFiles } from '../lib/tokenizerFiles.js';
import { ID, LAYOUT } from './fixtures/tokenLayout.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

t.test('smart resize and image token counts match the Python image processor', async (t) => {
  // Golden values from transformers' qwen2_vl smart_resize(factor=32, min_pixels=163840, max_pixels=196608).
  const cases: [number, number, [number, number], number][] = [
    [1080, 1920, [320, 576], 180],
    [64, 64, [416, 416], 169],
    [480, 640, [384, 512], 192],
    [720, 1280, [320, 576], 180],
    [1208, 1920, [320, 544], 170],
    [100, 3000, [64, 2400], 150],
    [336, 592, [320, 576], 180], // both sides are exact .5 ties: Python rounds half to even
  ];
  for (const [h, w, size, tokens] of cases) {
    t.same(smartResize(h, w), size, `${h}x${w}`);
    t.equal(imageTokenCount(w, h), tokens, `${h}x${w} tokens`);
  }
  const tiny = { patchSize: 8, mergeSize: 2, minPixels: 64 * 64, maxPixels: 128 * 128 };
  t.same(smartResize(72, 88, tiny), [64, 96]);
  t.equal(imageTokenCount(88, 72, tiny), (64 / 8) * (96 / 8) / 4);
});

t.test('vision settings come from the model config, else Alpamayo defaults', async (t) => {
  t.same(visionSettingsFromConfig({}), { patchSize: 16, mergeSize: 2, minPixels: 163840, maxPixels: 196608 });
  t.same(visionSettingsFromConfig({ vlm: { vision_config: { patch_size: 8, spatial_merge_size: 2 } }, min_pixels: 4096, max_pixels: 16384 }), {
    patchSize: 8,
    mergeSize: 2,
    minPixels: 4096,
    maxPixels: 16384,
  });
});

t.test('ChatML template renders the official message like transformers', async (t) => {
  const messages = [
    { role: 'system' as const, content: [{ type: 'text' as const, text: 'S' }] },
    { role: 'user' as const, content: [{ type: 'image' as const }, { type: 'image' as const }, { type: 'text' as const, text: 'hi <|traj_history|>' }] },
    { role: 'assistant' as const, content: [{ type: 'text' as const, text: '<|cot_start|>' }] },
  ];
  // Golden: transformers 5 apply_chat_template(..., add_generation_prompt=False, continue_final_message=True).
  t.equal(
    renderChat(CHATML_VL_TEMPLATE, messages),
    '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|><|vision_start|><|image_pad|><|vision_end|>hi <|traj_history|><|im_end|>\n<|im_start|>assistant\n<|cot_start|>',
  );
});

t.test('continue_final_message cut works for templates that ignore the flag', async (t) => {
  const closing = "{% for m in messages %}<{{ m.role }}>{{ m.content[-1].text }}</{{ m.role }}>\n{% endfor %}";
  const text = renderChat(closing, promptMessages(0));
  t.ok(text.endsWith('<assistant><|cot_start|>'), text.slice(-40));
  t.throws(() => renderChat('{{ raise_exception("nope") }}', promptMessages(0)), { code: 'INVALID_CHECKPOINT' });
});

t.test('official prompt text, with and without a command', async (t) => {
  const m = promptMessages(16);
  t.equal(m[0]!.content[0]!.type === 'text' && m[0]!.content[0]!.text, SYSTEM_PROMPT);
  t.equal(m[1]!.content.length, 17);
  const text = m[1]!.content[16]!;
  t.equal(
    text.type === 'text' && text.text,
    '<|traj_history_start|>' + '<|traj_history|>'.repeat(48) + '<|traj_history_end|>' + INSTRUCTION,
  );
  const withCommand = promptMessages(16, 'turn left at the next intersection').at(1)!.content.at(-1)!;
  t.ok(withCommand.type === 'text' && withCommand.text.endsWith(`${INSTRUCTION} turn left at the next intersection`));
  t.same(m[2]!.content, [{ type: 'text', text: '<|cot_start|>' }]);
});

t.test('prompt ids: images expanded, history ids scattered in order', async (t) => {
  const dir = t.testdir();
  await writeTokenizerFiles(dir, LAYOUT);
  const tok = await loadCheckpointTokenizer(dir);
  const counts = [3, 1, 2, ...Array(13).fill(4)];
  const history = Array.from({ length: HISTORY_TOKEN_COUNT }, (_, i) => 5000 + i);
  const ids = Array.from(buildPromptIds(tok, { imageTokenCounts: counts, historyIds: history }));
  t.equal(ids.filter((id) => id === ID['<|image_pad|>']).length, 3 + 1 + 2 + 13 * 4);
  t.equal(ids.filter((id) => id === ID['<|vision_start|>']).length, 16);
  t.equal(ids.filter((id) => id === ID['<|traj_history|>']).length, 0);
  // Run lengths of image_pad between vision_start / vision_end follow `counts`.
  const runs: number[] = [];
  ids.forEach((id, i) => {
    if (id === ID['<|vision_start|>']) {
      let n = 0;
      while (ids[i + 1 + n] === ID['<|image_pad|>']) n++;
      t.equal(ids[i + 1 + n], ID['<|vision_end|>']);
      runs.push(n);
    }
  });
  t.same(runs, counts);
  const start = ids.indexOf(ID['<|traj_history_start|>']!);
  t.same(ids.slice(start + 1, start + 49), history);
  t.equal(ids[start + 49], ID['<|traj_history_end|>']);
  t.equal(ids.at(-1), ID['<|cot_start|>'], 'assistant turn left open after <|cot_start|>');
  t.equal(ids.filter((id) => id === ID['<|im_end|>']).length, 2, 'system and user turns closed, assistant open');
  // The instruction is plain bytes right after the history block.
  const instr = ids.slice(start + 50, start + 50 + INSTRUCTION.length);
  t.equal(String.fromCharCode(...instr), INSTRUCTION);
});

t.test('prompt ids: the cached template serves every plan exactly as a fresh render would', async (t) => {
  const dir = t.testdir();
  await writeTokenizerFiles(dir, LAYOUT);
  const cached = await loadCheckpointTokenizer(dir);
  const fresh = async () => loadCheckpointTokenizer(dir); // a new tokenizer object has an empty cache
  const counts = Array(16).fill(5);
  const hist = (k: number) => Array.from({ length: HISTORY_TOKEN_COUNT }, (_, i) => 5000 + ((i * 7 + k) % 300));
  // More distinct commands than the cache holds, then the first ones again (evicted and re-rendered).
  const commands = [undefined, ...Array.from({ length: 40 }, (_, i) => `turn ${i % 2 ? 'left' : 'right'} in ${i} m`), undefined, 'turn right in 0 m'];
  for (const [k, command] of commands.entries()) {
    const opts = { imageTokenCounts: k % 3 ? counts : [1, 2, ...Array(14).fill(3)], historyIds: hist(k), ...(command ? { command } : {}) };
    const want = buildPromptIds(await fresh(), opts);
    const got = buildPromptIds(cached, opts);
    if (!t.same(Array.from(got), Array.from(want), `plan ${k} (${command ?? 'no command'})`)) break;
  }
  // The command is part of the prompt: two commands give two prompts.
  const a = buildPromptIds(cached, { imageTokenCounts: counts, historyIds: hist(0), command: 'stop' });
  const b = buildPromptIds(cached, { imageTokenCounts: counts, historyIds: hist(0), command: 'go' });
  t.not(Array.from(a).join(), Array.from(b).join());
});

t.test('checkpoint problems are INVALID_CHECKPOINT naming the file', async (t) => {
  const dir = t.testdir();
  await t.rejects(loadCheckpointTokenizer(dir), { code: 'INVALID_CHECKPOINT', message: /tokenizer\.json: cannot read/ });
  await writeTokenizerFiles(dir, LAYOUT.filter((l) => l.content !== '<|traj_history|>'));
  const tok = await loadCheckpointTokenizer(dir);
  t.throws(() => buildPromptIds(tok, { imageTokenCounts: [1], historyIds: Array(48).fill(0) }), {
    code: 'INVALID_CHECKPOINT',
    message: /special token <\|traj_history\|> is missing/,
  });
  const noTemplate = t.testdir();
  await writeTokenizerFiles(noTemplate, LAYOUT);
  const { rm } = await import('node:fs/promises');
  await rm(join(noTemplate, 'chat_template.jinja'));
  await t.rejects(loadCheckpointTokenizer(noTemplate), { code: 'INVALID_CHECKPOINT', message: /no chat template/ });
  // chat_template.json is the processor-style fallback.
  await writeFile(join(noTemplate, 'chat_template.json'), JSON.stringify({ chat_template: CHATML_VL_TEMPLATE }));
  t.equal((await loadCheckpointTokenizer(noTemplate)).chatTemplate, CHATML_VL_TEMPLATE);
});

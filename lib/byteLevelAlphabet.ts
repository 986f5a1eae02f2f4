/**
 * GPT-2's byte -> printable-character table used by byte-level BPE: printable Latin-1 bytes map to
 * themselves, the other 68 bytes to U+0100 upwards, so every byte is one visible vocabulary symbol.
 * Index = byte value.
 * @internal
 */
export function byteLevelAlphabet(): string[] {
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let next = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(printable(b) ? b : 256 + next++));
  return out;
}

// The official reasoning text is Python's `str.strip()` of the decoded span. Python's whitespace set
// (str.isspace) differs from JavaScript's trim(): it includes U+001C..U+001F and U+0085 and excludes
// U+FEFF, so the edges are cut with Python's set, both for `reasoning` and for the streamed pieces.
const PY_SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

function isPySpace(ch: string): boolean {
  return PY_SPACE.test(ch);
}

/** Python's `s.strip()` (no argument). @internal */
export function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isPySpace(s[a] as string)) a++;
  while (b > a && isPySpace(s[b - 1] as string)) b--;
  return s.slice(a, b);
}

/**
 * Re-chunks a text stream so that the pieces concatenate to exactly `pyStrip(whole text)`: leading
 * whitespace is dropped, trailing whitespace is held back until non-whitespace text follows it (and is
 * dropped if none does).
 * @internal
 */
export class EdgeStripper {
  #started = false;
  #held = '';

  push(piece: string): string {
    let s = piece;
    if (!this.#started) {
      let a = 0;
      while (a < s.length && isPySpace(s[a] as string)) a++;
      s = s.slice(a);
      if (s === '') return '';
      this.#started = true;
    }
    const all = this.#held + s;
    let cut = all.length;
    while (cut > 0 && isPySpace(all[cut - 1] as string)) cut--;
    this.#held = all.slice(cut);
    return all.slice(0, cut);
  }
}

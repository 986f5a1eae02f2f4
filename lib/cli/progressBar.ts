// Progress of an evaluation on stderr: a bar redrawn in place on a terminal, one line per step otherwise
// (logs, CI), with the rate so far and the ETA it implies.

/** @internal */
export class ProgressBar {
  readonly #total: number;
  readonly #stream: NodeJS.WriteStream;
  readonly #start = performance.now();
  #done = 0;
  #failed = 0;

  constructor(total: number, stream: NodeJS.WriteStream = process.stderr) {
    this.#total = total;
    this.#stream = stream;
  }

  /** Counts one finished clip (ok or failed) and redraws. */
  tick(label: string, failed = false): void {
    this.#done++;
    if (failed) this.#failed++;
    const line = this.render(label);
    if (this.#stream.isTTY) this.#stream.write(`\r\x1b[2K${line}${this.#done === this.#total ? '\n' : ''}`);
    else this.#stream.write(line + '\n');
  }

  /** The bar text for the current count. */
  render(label: string): string {
    const width = 24;
    const frac = this.#total ? this.#done / this.#total : 1;
    const fill = Math.round(frac * width);
    const elapsed = (performance.now() - this.#start) / 1000;
    const per = this.#done ? elapsed / this.#done : 0;
    const eta = per * (this.#total - this.#done);
    const failed = this.#failed ? `, ${this.#failed} failed` : '';
    return `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${this.#done}/${this.#total} ${(frac * 100).toFixed(0)}% ${per.toFixed(1)} s/clip ETA ${formatDuration(eta)}${failed}  ${label}`;
  }
}

/** `1h02m`, `3m05s`, `12s`. @internal */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

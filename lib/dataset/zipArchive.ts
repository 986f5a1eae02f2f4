// A chunk zip of the dataset, read with yauzl: the central directory is read once, then members are
// read on demand (a chunk holds ~100 clips; the reader keeps the archive open across them).
import yauzl from 'yauzl';
import { AlpamayoError } from '../AlpamayoError.js';

/** @internal */
export class ZipArchive {
  readonly path: string;
  readonly #zip: yauzl.ZipFile;
  readonly #entries: Map<string, yauzl.Entry>;

  private constructor(path: string, zip: yauzl.ZipFile, entries: Map<string, yauzl.Entry>) {
    this.path = path;
    this.#zip = zip;
    this.#entries = entries;
  }

  /** Opens `path` and reads its member list. */
  static async open(path: string): Promise<ZipArchive> {
    let zip: yauzl.ZipFile;
    try {
      zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
    } catch (e) {
      throw new AlpamayoError(`dataset: cannot open zip ${path}: ${(e as Error).message}`, 'INVALID_INPUT', { field: path, cause: e });
    }
    const entries = new Map<string, yauzl.Entry>();
    try {
      await new Promise<void>((resolve, reject) => {
        zip.on('entry', (entry: yauzl.Entry) => {
          entries.set(entry.fileName, entry);
          zip.readEntry();
        });
        zip.on('end', () => resolve());
        zip.on('error', reject);
        zip.readEntry();
      });
    } catch (e) {
      zip.close();
      throw new AlpamayoError(`dataset: bad zip ${path}: ${(e as Error).message}`, 'INVALID_INPUT', { field: path, cause: e });
    }
    return new ZipArchive(path, zip, entries);
  }

  /** Member names. */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  /** Whole content of one member. */
  async read(name: string): Promise<Buffer> {
    const entry = this.#entries.get(name);
    if (!entry) throw new AlpamayoError(`dataset: ${this.path} has no member ${name}`, 'INVALID_INPUT', { field: name, expected: `a member of ${this.path}` });
    try {
      const stream = await this.#zip.openReadStreamPromise(entry);
      const parts: Buffer[] = [];
      for await (const part of stream) parts.push(part as Buffer);
      return Buffer.concat(parts);
    } catch (e) {
      throw new AlpamayoError(`dataset: cannot read ${name} from ${this.path}: ${(e as Error).message}`, 'INVALID_INPUT', { field: name, cause: e });
    }
  }

  /**
   * Byte range of a member stored without compression (as the dataset stores its videos), so that tools
   * can read it in place; undefined for a compressed member.
   */
  async storedRange(name: string): Promise<{ start: number; end: number } | undefined> {
    const entry = this.#entries.get(name);
    if (!entry) throw new AlpamayoError(`dataset: ${this.path} has no member ${name}`, 'INVALID_INPUT', { field: name, expected: `a member of ${this.path}` });
    if (entry.compressionMethod !== 0 || entry.isEncrypted()) return undefined;
    const { fileDataStart } = await this.#zip.readLocalFileHeaderPromise(entry, { minimal: true });
    return { start: fileDataStart, end: fileDataStart + entry.compressedSize };
  }

  close(): void {
    this.#zip.close();
  }
}

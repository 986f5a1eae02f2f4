// The JSON-lines results file: one ClipResult per line, appended as clips finish, read back to resume.
import { appendFile, readFile, truncate } from 'node:fs/promises';
import type { ClipResult } from './evaluateClips.js';

/**
 * Results already in `path` (none when it does not exist). A last line cut short by a crash is removed
 * from the file so that appending continues on a clean line.
 */
export async function readResultsFile(path: string): Promise<ClipResult[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const end = text.lastIndexOf('\n') + 1;
  if (end < text.length) {
    await truncate(path, Buffer.byteLength(text.slice(0, end)));
    text = text.slice(0, end);
  }
  const out: ClipResult[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as ClipResult;
    if (typeof r.clip === 'string' && typeof r.t0Us === 'number' && r.minADE) out.push(r);
  }
  return out;
}

/** Appends one result as a line. */
export async function appendResult(path: string, result: ClipResult): Promise<void> {
  await appendFile(path, JSON.stringify(result) + '\n');
}

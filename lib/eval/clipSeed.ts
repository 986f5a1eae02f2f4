// A clip's sampling seed depends only on the run's base seed and the clip id, so a clip gets the same
// samples whichever process, worker or order evaluates it.

/** uint32 seed of `clipId` under `baseSeed` (FNV-1a over "<baseSeed>:<clipId>" in UTF-8). */
export function clipSeed(clipId: string, baseSeed = 0): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(`${baseSeed >>> 0}:${clipId}`, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

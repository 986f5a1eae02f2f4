import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { AlpamayoError } from '../AlpamayoError.js';
import type { EgoPose, Frame, Frames } from '../types.js';
import { invalidInput, isPlainObject } from '../validateCommon.js';

/**
 * The CLI's `--inputs` JSON file. Paths are relative to the file.
 * ```json
 * { "frames": { "front_wide": [{ "path": "fw0.rgb", "width": 576, "height": 320, "timestampUs": 1000000 }, ...3 more],
 *               "front_tele": [...], "cross_left": [...], "cross_right": [...] },
 *   "egoHistory": [{ "timestampUs": 0, "position": [0, 0, 0], "rotation": [1,0,0, 0,1,0, 0,0,1] }, ...15 more],
 *   "command": "optional text" }
 * ```
 * `.rgb` files are raw RGB bytes (HWC) and need `width`/`height`; `.png`/`.jpg`/`.jpeg` are decoded with
 * the optional `sharp` package.
 */
export interface InputsFile {
  frames: Record<string, { path: string; width?: number; height?: number; timestampUs: number }[]>;
  egoHistory: EgoPose[];
  command?: string;
}

type SharpFn = (input: Buffer) => { removeAlpha(): { raw(): { toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }> } } };

async function loadSharp(): Promise<SharpFn> {
  try {
    const name = 'sharp'; // a variable keeps TypeScript from requiring sharp's types at build time
    const mod = (await import(name)) as { default?: SharpFn };
    return (mod.default ?? (mod as unknown as SharpFn)) as SharpFn;
  } catch {
    throw new AlpamayoError(
      'decoding PNG/JPEG frames needs the optional package sharp: run `npm install sharp`, or pass raw .rgb files with width/height',
      'INVALID_INPUT',
      { field: 'inputs.frames', expected: 'sharp installed or .rgb frames', actual: 'sharp not installed' },
    );
  }
}

async function readFrame(base: string, field: string, entry: unknown): Promise<Frame> {
  if (!isPlainObject(entry) || typeof entry.path !== 'string') throw invalidInput(field, 'an object { path, timestampUs, width?, height? }', entry);
  const path = resolve(base, entry.path);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw invalidInput(`${field}.path`, 'a readable file', path, (err as Error).message);
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.rgb') {
    return { data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), width: entry.width as number, height: entry.height as number, timestampUs: entry.timestampUs as number };
  }
  if (ext === '.png' || ext === '.jpg' || ext === '.jpeg') {
    const sharp = await loadSharp();
    const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, timestampUs: entry.timestampUs as number };
  }
  throw invalidInput(`${field}.path`, 'a .rgb, .png, .jpg or .jpeg file', path);
}

/** Reads an {@link InputsFile}; the frames and poses are validated later by `plan()`. */
export async function readInputsFile(file: string): Promise<{ frames: Frames; egoHistory: EgoPose[]; command?: string }> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw invalidInput('inputs', 'a readable JSON inputs file', file, (err as Error).message);
  }
  if (!isPlainObject(json) || !isPlainObject(json.frames)) throw invalidInput('inputs.frames', 'an object of camera -> frame list', isPlainObject(json) ? json.frames : json);
  const base = dirname(resolve(file));
  const frames: Record<string, Frame[]> = {};
  for (const [camera, list] of Object.entries(json.frames)) {
    if (!Array.isArray(list)) throw invalidInput(`inputs.frames.${camera}`, 'an array of frames', list);
    frames[camera] = await Promise.all(list.map((e, i) => readFrame(base, `inputs.frames.${camera}[${i}]`, e)));
  }
  const out: { frames: Frames; egoHistory: EgoPose[]; command?: string } = { frames: frames as unknown as Frames, egoHistory: json.egoHistory as EgoPose[] };
  if (typeof json.command === 'string') out.command = json.command;
  return out;
}

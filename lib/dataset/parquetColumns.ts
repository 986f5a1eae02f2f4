// Column reads from parquet files with hyparquet (pure JS; hyparquet-compressors adds the codecs
// pyarrow may use besides snappy, e.g. zstd). Loaded on first use: both are ESM-only, and the CommonJS
// build of this package must not need them just to load.
import { AlpamayoError } from '../AlpamayoError.js';

type Column = unknown[] | ArrayLike<unknown>;

/** Reads `columns` of a parquet file held in memory; each column as an array of values. @internal */
export async function readParquetColumns(bytes: Uint8Array, columns: readonly string[], what: string): Promise<Record<string, Column>> {
  const [{ parquetMetadata, parquetRead }, { compressors }] = await Promise.all([import('hyparquet'), import('hyparquet-compressors')]);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let metadata;
  try {
    metadata = parquetMetadata(file);
  } catch (e) {
    throw new AlpamayoError(`${what}: not a parquet file: ${(e as Error).message}`, 'INVALID_INPUT', { field: what, cause: e });
  }
  const have = new Set(metadata.schema.slice(1).map((s) => s.name));
  const missing = columns.filter((c) => !have.has(c));
  if (missing.length) {
    throw new AlpamayoError(`${what}: missing column(s) ${missing.join(', ')} (has ${[...have].join(', ')})`, 'INVALID_INPUT', {
      field: what,
      expected: columns,
      actual: [...have],
    });
  }
  const out: Record<string, unknown[]> = Object.fromEntries(columns.map((c) => [c, []]));
  try {
    await parquetRead({
      file,
      metadata,
      columns: [...columns],
      compressors,
      rowFormat: 'object',
      onComplete: (rows) => {
        for (const row of rows) for (const c of columns) out[c]!.push(row[c]);
      },
    });
  } catch (e) {
    throw new AlpamayoError(`${what}: cannot read parquet: ${(e as Error).message}`, 'INVALID_INPUT', { field: what, cause: e });
  }
  return out;
}

/** Integer column (int64 arrives as bigint) as safe JS integers. @internal */
export function integerColumn(what: string, values: Column): number[] {
  return Array.from(values, (v, i) => {
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new AlpamayoError(`${what}[${i}]: expected an integer, got ${String(v)}`, 'INVALID_INPUT', { field: `${what}[${i}]`, expected: 'an integer', actual: v });
    return n;
  });
}

/** Float column as a Float64Array; every value must be finite. @internal */
export function floatColumn(what: string, values: Column): Float64Array {
  return Float64Array.from(Array.from(values), (v, i) => {
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new AlpamayoError(`${what}[${i}]: expected a finite number, got ${String(v)}`, 'INVALID_INPUT', { field: `${what}[${i}]`, expected: 'a finite number', actual: v });
    return n;
  });
}

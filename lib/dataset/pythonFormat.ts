// features.csv stores file-name templates as Python format strings ("{clip_id}.egomotion.parquet",
// "labels/egomotion/egomotion.chunk_{chunk_id:04d}.zip"). Only the forms the dataset uses are accepted.
import { AlpamayoError } from '../AlpamayoError.js';

/** Fills `{name}` and `{name:0Nd}` fields; any other field is an error. @internal */
export function pythonFormat(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{([A-Za-z_]\w*)(?::(0?)(\d+)d)?\}/g, (field, name: string, zero: string | undefined, width: string | undefined) => {
    const v = values[name];
    if (v === undefined) throw new AlpamayoError(`features.csv: template ${JSON.stringify(template)} uses unknown field {${name}}`, 'INVALID_INPUT', { field: 'features.csv', actual: field });
    if (width === undefined) return String(v);
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new AlpamayoError(`features.csv: {${name}} needs an integer, got ${JSON.stringify(v)}`, 'INVALID_INPUT', { field: 'features.csv' });
    const s = String(Math.abs(v)).padStart(Number(width) - (v < 0 ? 1 : 0), zero ? '0' : ' ');
    return v < 0 ? `-${s}` : s;
  });
}

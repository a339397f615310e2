/**
 * Validation steps 1-6 of docs/gather-spec.md for one partition result, and the ordering of
 * the inputs by plan index. Step 7 (duplicate ids) needs the merge's id table, so each merge
 * does it itself.
 */
import { isUtf8 } from 'node:buffer';
import { GatherInputError } from '../errors.js';
import { f32Column, f64Column, u32Column } from '../wire/columns.js';
import type { PartBase, Rejection, RejectionCode } from './gather-types.js';

/** Typed array of a value column. */
export type FloatArray = Float32Array | Float64Array;

/** The float type of a part's value columns: bytes per value and an aligned reader. */
export interface FloatColumn<V extends FloatArray> {
  width: 4 | 8;
  read(bytes: Uint8Array): V;
}

/** f32 LE values (Recall, Spread, Imagine). */
export const F32: FloatColumn<Float32Array> = { width: 4, read: f32Column };
/** f64 LE values (pulses). */
export const F64: FloatColumn<Float64Array> = { width: 8, read: f64Column };

/** A partition that passed steps 1-6, with its columns as aligned typed arrays. */
export interface CheckedPart<V extends FloatArray = Float32Array> {
  index: number;
  n: number;
  blob: Uint8Array;
  /** `n + 1` offsets (a single 0 when n = 0). */
  offsets: Uint32Array;
  /** One array per value column, in the order they were given. */
  values: V[];
}

const ZERO_OFFSETS = new Uint32Array(1);
const MAX_U32 = 0xffff_ffff;

/** Throws GatherInputError unless `value` is a u32 (the addon takes limits and indices as u32). */
export function checkU32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
    throw new GatherInputError(`${name} must be an integer in [0, ${MAX_U32}] (got ${String(value)})`);
  }
}

/**
 * The parts in ascending plan index; throws GatherInputError on a bad or repeated index,
 * since no partition can have sent that.
 */
export function byIndex<P extends PartBase>(parts: readonly P[]): P[] {
  for (const p of parts) checkU32('partition index', p.index);
  const sorted = parts.slice().sort((a, b) => a.index - b.index);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.index === sorted[i - 1]!.index) {
      throw new GatherInputError(`two partition results have index ${sorted[i]!.index}`);
    }
  }
  return sorted;
}

function reject(index: number, code: RejectionCode, problem: string): Rejection {
  return { partition: index, code, message: `partition ${index}: ${problem}` };
}

/**
 * Steps 1-6 for one part. `columns` are its value columns with their names (for messages), of
 * `float` values; `ordered` makes the first two columns a `lower <= upper` pair (Recall).
 */
export function checkPart<V extends FloatArray>(
  part: PartBase,
  cap: number,
  columns: ReadonlyArray<readonly [string, Uint8Array]>,
  ordered: boolean,
  float: FloatColumn<V>,
): CheckedPart<V> | Rejection {
  const { index, ids: blob } = part;
  const offsetBytes = part.offsets.byteLength;
  if (offsetBytes % 4 !== 0) return reject(index, 'BAD_OFFSETS', `offsets column has ${offsetBytes} bytes, not a multiple of 4`);
  const n = offsetBytes === 0 ? 0 : offsetBytes / 4 - 1;
  if (n > cap) return reject(index, 'TOO_LARGE', `${n} rows > cap ${cap}`);
  const width = float.width;
  for (const [name, col] of columns) {
    if (col.byteLength !== width * n) return reject(index, 'COLUMN_LENGTH', `${name} column has ${col.byteLength} bytes, expected ${width * n}`);
  }

  let offsets: Uint32Array;
  if (offsetBytes === 0) {
    if (blob.byteLength !== 0) return reject(index, 'BAD_OFFSETS', `no offsets but an id blob of ${blob.byteLength} bytes`);
    offsets = ZERO_OFFSETS;
  } else {
    offsets = u32Column(part.offsets);
    // Wire bytes are little-endian; a big-endian host would need a swap here.
    if (offsets[0] !== 0) return reject(index, 'BAD_OFFSETS', `offsets[0]=${offsets[0]} is not 0`);
    for (let i = 0; i < n; i++) {
      if (offsets[i + 1]! < offsets[i]!) return reject(index, 'BAD_OFFSETS', `offsets[${i + 1}]=${offsets[i + 1]} < offsets[${i}]=${offsets[i]}`);
    }
    if (offsets[n] !== blob.byteLength) return reject(index, 'BAD_OFFSETS', `offsets[${n}]=${offsets[n]} != blob length ${blob.byteLength}`);
  }

  if (!isUtf8(blob)) return reject(index, 'BAD_UTF8', 'id blob is not valid UTF-8');
  const len = blob.byteLength;
  for (let i = 1; i < n; i++) {
    const o = offsets[i]!;
    if (o > 0 && o < len && (blob[o]! & 0xc0) === 0x80) {
      return reject(index, 'BAD_UTF8', `offsets[${i}]=${o} splits a UTF-8 character`);
    }
  }

  const values: V[] = [];
  for (const [name, col] of columns) {
    const v = float.read(col);
    for (let i = 0; i < n; i++) {
      const x = v[i]!;
      // Written so that NaN fails too.
      if (!(x >= 0 && x <= 1)) return reject(index, 'BAD_VALUE', `${name}[${i}]=${x} is not in [0, 1]`);
    }
    values.push(v);
  }
  if (ordered) {
    const lo = values[0]!;
    const hi = values[1]!;
    for (let i = 0; i < n; i++) {
      if (!(lo[i]! <= hi[i]!)) return reject(index, 'BAD_VALUE', `lower[${i}]=${lo[i]} > upper[${i}]=${hi[i]}`);
    }
  }
  return { index, n, blob, offsets, values };
}

/** Whether `r` is a rejection rather than a checked part. */
export function isRejection<V extends FloatArray>(r: CheckedPart<V> | Rejection): r is Rejection {
  return (r as Rejection).code !== undefined;
}

/** A rejection for step 7: row `row` repeats an id seen earlier in the same partition. */
export function duplicateRejection(part: CheckedPart<FloatArray>, row: number): Rejection {
  return reject(part.index, 'DUPLICATE_ID', `row ${row} repeats id ${JSON.stringify(idAt(part, row))}`);
}

const decoder = new TextDecoder();

function idAt(part: CheckedPart<FloatArray>, row: number): string {
  return decoder.decode(part.blob.subarray(part.offsets[row]!, part.offsets[row + 1]!));
}

/** Merges the accepted parts; re-runs without the parts step 7 rejects, as the spec says. */
export function withoutDuplicates<P extends CheckedPart<FloatArray>, R>(
  checked: P[],
  rejected: Rejection[],
  merge: (parts: P[], duplicates: Rejection[]) => R,
): R {
  const duplicates: Rejection[] = [];
  let result = merge(checked, duplicates);
  if (duplicates.length > 0) {
    const bad = new Set(duplicates.map((d) => d.partition));
    result = merge(checked.filter((p) => !bad.has(p.index)), []);
    rejected.push(...duplicates);
    rejected.sort((a, b) => a.partition - b.partition);
  }
  return result;
}

/** Runs steps 1-6 over the parts in index order, splitting accepted from rejected. */
export function checkAll<P extends PartBase, V extends FloatArray>(
  parts: readonly P[],
  cap: number,
  columnsOf: (p: P) => ReadonlyArray<readonly [string, Uint8Array]>,
  ordered: boolean,
  float: FloatColumn<V>,
): { checked: CheckedPart<V>[]; rejected: Rejection[] } {
  const checked: CheckedPart<V>[] = [];
  const rejected: Rejection[] = [];
  for (const p of byIndex(parts)) {
    const r = checkPart(p, cap, columnsOf(p), ordered, float);
    if (isRejection(r)) rejected.push(r);
    else checked.push(r);
  }
  return { checked, rejected };
}

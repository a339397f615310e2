/**
 * Reading a merge's rows back out of the partition columns, on demand: a merge only returns
 * (partition, row) pointers, so a caller that needs ten ids out of a million rows decodes ten.
 */
import { GatherInputError } from '../errors.js';
import type { MergedRows, PartBase } from './gather-types.js';

const decoder = new TextDecoder();

/** Keys of `P` whose value is a byte column. */
type ByteColumn<P> = { [K in keyof P]: P[K] extends Uint8Array ? K : never }[keyof P];

/**
 * Output rows of a merge, resolved against the parts that were merged. Only rows of accepted
 * partitions are ever pointed at, so their columns are already validated.
 */
export class GatherRows<P extends PartBase> {
  readonly length: number;
  private readonly merged: MergedRows;
  private readonly byIndex = new Map<number, P>();

  /** `parts` must be the array (in any order) that produced `merged`. */
  constructor(merged: MergedRows, parts: readonly P[]) {
    this.merged = merged;
    this.length = merged.partition.length;
    for (const p of parts) this.byIndex.set(p.index, p);
  }

  /** The partition result output row `i` came from. */
  part(i: number): P {
    const index = this.merged.partition[i];
    const part = index === undefined ? undefined : this.byIndex.get(index);
    if (!part) throw new GatherInputError(`row ${i}: no partition result with index ${String(index)} (rows: ${this.length})`);
    return part;
  }

  /** Row of output row `i` within its partition result. */
  row(i: number): number {
    return this.merged.row[i]!;
  }

  /** The id of output row `i`, decoded from UTF-8. */
  id(i: number): string {
    const p = this.part(i);
    return stringAt(p.ids, p.offsets, this.row(i));
  }

  /** Ids of output rows `start` (default 0) to `end` (exclusive, default all). */
  ids(start = 0, end = this.length): string[] {
    const out: string[] = [];
    for (let i = start; i < Math.min(end, this.length); i++) out.push(this.id(i));
    return out;
  }

  /** Another string column of the source partition (e.g. `content` + `contentOffsets`), row `i`. */
  string(i: number, blob: ByteColumn<P>, offsets: ByteColumn<P>): string {
    const p = this.part(i);
    return stringAt(p[blob] as Uint8Array, p[offsets] as Uint8Array, this.row(i));
  }

  /** An f32 LE column of the source partition (e.g. `similarity`), row `i`. */
  f32(i: number, column: ByteColumn<P>): number {
    return view(this.part(i)[column] as Uint8Array).getFloat32(this.row(i) * 4, true);
  }

  /** An f64 LE column of the source partition (e.g. `createdAt`), row `i`. */
  f64(i: number, column: ByteColumn<P>): number {
    return view(this.part(i)[column] as Uint8Array).getFloat64(this.row(i) * 8, true);
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Row `row` of a UTF-8 blob + u32 LE offsets column, at any byte alignment. */
export function stringAt(blob: Uint8Array, offsets: Uint8Array, row: number): string {
  const o = view(offsets);
  return decoder.decode(blob.subarray(o.getUint32(row * 4, true), o.getUint32(row * 4 + 4, true)));
}

/**
 * Pure-TS Spread merge (docs/gather-spec.md): the test oracle, the benchmark baseline and the
 * fallback when the addon is missing or the input is too small to pay for the FFI call.
 */
import { MAX_PARTITION_ROWS, type Rejection, type SpreadMerged, type SpreadPart } from './gather-types.js';
import { IdTable } from './reference-id-table.js';
import { checkAll, duplicateRejection, F32, withoutDuplicates, type CheckedPart } from './reference-validate.js';

const spreadColumns = (p: SpreadPart) => [['activation', p.activation]] as const;

/** Sums each id's activations over partitions (f64, index order), clamps to 1; rows in order of first appearance. */
export function referenceMergeSpread(parts: readonly SpreadPart[]): SpreadMerged {
  const { checked, rejected } = checkAll(parts, MAX_PARTITION_ROWS, spreadColumns, false, F32);
  return withoutDuplicates(checked, rejected, (accepted, duplicates) => merge(accepted, rejected, duplicates));
}

function merge(parts: CheckedPart[], rejected: Rejection[], duplicates: Rejection[]): SpreadMerged {
  const { count, from, row, sum } = sumById(parts, duplicates);
  const partition = new Uint32Array(count);
  const activation = new Float32Array(count);
  for (let s = 0; s < count; s++) {
    partition[s] = parts[from[s]!]!.index;
    activation[s] = Math.min(sum[s]!, 1);
  }
  return { partition, row: row.slice(0, count), activation, rejected };
}

/** Each distinct id, in order of first appearance: where it first appeared and its sum. */
export interface IdSums {
  count: number;
  /** Position among the parts (not the partition index) of each id's first appearance. */
  from: Uint32Array;
  /** Row of that first appearance. */
  row: Uint32Array;
  /** The id's values summed in f64, in part order (unclamped). */
  sum: Float64Array;
}

/**
 * The sum both Spread-shaped merges share (activations here, pulses in reference-pulses.ts): a
 * part that repeats an id is recorded in `duplicates` and the sum stops there (the caller runs
 * again without it, so nothing it added is kept).
 */
export function sumById<V extends Float32Array | Float64Array>(parts: readonly CheckedPart<V>[], duplicates: Rejection[]): IdSums {
  let total = 0;
  for (const p of parts) total += p.n;
  const slots = new IdTable(total);
  const from = new Uint32Array(total);
  const row = new Uint32Array(total);
  const sum = new Float64Array(total);
  const seenIn = new Int32Array(total);
  let count = 0;
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k]!;
    const b = slots.addBlob(p.blob);
    const off = p.offsets;
    const vals = p.values[0]!;
    for (let i = 0; i < p.n; i++) {
      const s = slots.intern(b, p.blob, off[i]!, off[i + 1]!);
      if (slots.inserted) {
        from[count] = k;
        row[count] = i;
        // Starts from the value itself, not 0 + value: a lone -0 stays -0, as on the native side.
        sum[count] = vals[i]!;
        seenIn[count] = k;
        count++;
      } else if (seenIn[s] === k) {
        duplicates.push(duplicateRejection(p, i));
        break;
      } else {
        seenIn[s] = k;
        sum[s] = sum[s]! + vals[i]!;
      }
    }
  }
  return { count, from, row, sum };
}

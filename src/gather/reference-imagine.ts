/**
 * Pure-TS Imagine merge (docs/gather-spec.md): the test oracle, the benchmark baseline and the
 * fallback when the addon is missing or the input is too small to pay for the FFI call.
 */
import type { ImagineMerged, ImaginePart, Rejection } from './gather-types.js';
import { descendingOrder } from './reference-sort.js';
import { IdTable } from './reference-id-table.js';
import { checkAll, checkU32, duplicateRejection, F32, withoutDuplicates, type CheckedPart } from './reference-validate.js';

const imagineColumns = (p: ImaginePart) => [['confidence', p.confidence]] as const;

/** Every accepted row, sorted by confidence desc, then partition index asc, then row asc. */
export function referenceMergeImagine(parts: readonly ImaginePart[], maxRows: number): ImagineMerged {
  checkU32('maxRows', maxRows);
  const { checked, rejected } = checkAll(parts, maxRows, imagineColumns, false, F32);
  return withoutDuplicates(checked, rejected, (accepted, duplicates) => merge(accepted, rejected, duplicates));
}

function merge(parts: CheckedPart[], rejected: Rejection[], duplicates: Rejection[]): ImagineMerged {
  findDuplicates(parts, duplicates);
  let total = 0;
  for (const p of parts) total += p.n;
  // Concatenated in (partition asc, row asc): a stable sort by confidence then gives the spec order.
  const part = new Uint32Array(total);
  const row = new Uint32Array(total);
  const conf = new Float32Array(total);
  let at = 0;
  for (const p of parts) {
    part.fill(p.index, at, at + p.n);
    for (let i = 0; i < p.n; i++) row[at + i] = i;
    conf.set(p.values[0]!.subarray(0, p.n), at);
    at += p.n;
  }
  const order = descendingOrder(conf);
  const out: ImagineMerged = {
    partition: new Uint32Array(total),
    row: new Uint32Array(total),
    confidence: new Float32Array(total),
    rejected,
  };
  for (let j = 0; j < total; j++) {
    const s = order[j]!;
    out.partition[j] = part[s]!;
    out.row[j] = row[s]!;
    out.confidence[j] = conf[s]!;
  }
  return out;
}

function findDuplicates(parts: CheckedPart[], duplicates: Rejection[]): void {
  let total = 0;
  for (const p of parts) total += p.n;
  const slots = new IdTable(total);
  // Last partition (position) that held each id: a repeat within one partition finds itself.
  const seenIn = new Int32Array(total).fill(-1);
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k]!;
    const b = slots.addBlob(p.blob);
    const off = p.offsets;
    for (let i = 0; i < p.n; i++) {
      const s = slots.intern(b, p.blob, off[i]!, off[i + 1]!);
      if (seenIn[s] === k) {
        duplicates.push(duplicateRejection(p, i));
        break;
      }
      seenIn[s] = k;
    }
  }
}

/**
 * Pure-TS Recall merge (docs/gather-spec.md): the test oracle, the benchmark baseline and the
 * fallback when the addon is missing or the input is too small to pay for the FFI call.
 */
import type { RecallMerged, RecallPart, Rejection } from './gather-types.js';
import { descendingOrder } from './reference-sort.js';
import { IdTable } from './reference-id-table.js';
import { checkAll, checkU32, duplicateRejection, F32, withoutDuplicates, type CheckedPart } from './reference-validate.js';

const recallColumns = (p: RecallPart) => [['lower', p.lower], ['upper', p.upper]] as const;

/** Dedups by id (highest `lower`, then `upper`, then lower index), sorts by `lower` desc, id asc, keeps `limit` rows. */
export function referenceMergeRecall(parts: readonly RecallPart[], limit: number): RecallMerged {
  checkU32('limit', limit);
  const { checked, rejected } = checkAll(parts, limit, recallColumns, true, F32);
  return withoutDuplicates(checked, rejected, (accepted, duplicates) => merge(accepted, limit, rejected, duplicates));
}

function merge(parts: CheckedPart[], limit: number, rejected: Rejection[], duplicates: Rejection[]): RecallMerged {
  let total = 0;
  for (const p of parts) total += p.n;
  const slots = new IdTable(total);
  const part = new Uint32Array(total);
  const row = new Uint32Array(total);
  const lower = new Float32Array(total);
  const upper = new Float32Array(total);
  // Position (in `parts`) of the last partition that touched each slot: finds step-7 repeats.
  const seenIn = new Int32Array(total);
  let count = 0;
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k]!;
    const b = slots.addBlob(p.blob);
    const off = p.offsets;
    const lo = p.values[0]!;
    const hi = p.values[1]!;
    for (let i = 0; i < p.n; i++) {
      const s = slots.intern(b, p.blob, off[i]!, off[i + 1]!);
      if (slots.inserted) {
        part[count] = p.index;
        row[count] = i;
        lower[count] = lo[i]!;
        upper[count] = hi[i]!;
        seenIn[count] = k;
        count++;
        continue;
      }
      if (seenIn[s] === k) {
        duplicates.push(duplicateRejection(p, i));
        break;
      }
      seenIn[s] = k;
      const l = lo[i]!;
      // Strictly better only: on a full tie the earlier (lower-index) partition keeps it.
      if (l > lower[s]! || (l === lower[s]! && hi[i]! > upper[s]!)) {
        part[s] = p.index;
        row[s] = i;
        lower[s] = l;
        upper[s] = hi[i]!;
      }
    }
  }

  const order = topSlots(lower, slots, count, limit);
  const m = order.length;
  const out: RecallMerged = {
    partition: new Uint32Array(m),
    row: new Uint32Array(m),
    lower: new Float32Array(m),
    upper: new Float32Array(m),
    rejected,
  };
  for (let j = 0; j < m; j++) {
    const s = order[j]!;
    out.partition[j] = part[s]!;
    out.row[j] = row[s]!;
    out.lower[j] = lower[s]!;
    out.upper[j] = upper[s]!;
  }
  return out;
}

/** The first `limit` slots by `lower` desc, key asc; a numeric sort, then keys only within ties. */
function topSlots(lower: Float32Array, slots: IdTable, count: number, limit: number): Uint32Array {
  if (limit === 0) return new Uint32Array(0);
  let threshold = -Infinity;
  if (count > limit) {
    // The native numeric sort finds the limit-th largest value far faster than a comparator sort.
    threshold = lower.slice(0, count).sort()[count - limit]!;
  }
  let c = 0;
  const cand = new Uint32Array(count);
  for (let s = 0; s < count; s++) if (lower[s]! >= threshold) cand[c++] = s;
  const values = new Float32Array(c);
  for (let j = 0; j < c; j++) values[j] = lower[cand[j]!]!;
  const pos = descendingOrder(values);
  const chosen = new Uint32Array(c);
  for (let j = 0; j < c; j++) chosen[j] = cand[pos[j]!]!;
  const byKey = (a: number, b: number) => slots.compare(a, b);
  // Ids are distinct, so ordering each run of equal `lower` by key makes the order total.
  for (let start = 0, j = 1; start < limit && start < c; j++) {
    if (j === c || lower[chosen[j]!]! !== lower[chosen[start]!]!) {
      if (j - start > 1) chosen.subarray(start, j).sort(byKey);
      start = j;
    }
  }
  return chosen.subarray(0, Math.min(limit, c));
}

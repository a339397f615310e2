/**
 * Pure-TS pulse merge (docs/gather-spec.md): the Spread merge over f64 values, for a Spread over
 * several spaces, returning the merged columns themselves. The test oracle, the benchmark
 * baseline and the fallback when the addon is missing or the input is too small for the FFI call.
 */
import { GatherInputError } from '../errors.js';
import { MAX_PARTITION_ROWS, type PulseMerged, type PulsePart, type Rejection } from './gather-types.js';
import { sumById } from './reference-spread.js';
import { checkAll, F64, withoutDuplicates, type CheckedPart } from './reference-validate.js';

const pulseColumns = (p: PulsePart) => [['values', p.values]] as const;
const MAX_U32 = 0xffff_ffff;

/** Sums each id's pulses over partitions (f64, index order), clamps to 1; columns in order of first appearance. */
export function referenceMergePulses(parts: readonly PulsePart[]): PulseMerged {
  const { checked, rejected } = checkAll(parts, MAX_PARTITION_ROWS, pulseColumns, false, F64);
  return withoutDuplicates(checked, rejected, (accepted, duplicates) => merge(accepted, rejected, duplicates));
}

function merge(parts: CheckedPart<Float64Array>[], rejected: Rejection[], duplicates: Rejection[]): PulseMerged {
  const { count, from, row, sum } = sumById(parts, duplicates);
  let idBytes = 0;
  for (let s = 0; s < count; s++) {
    const off = parts[from[s]!]!.offsets;
    idBytes += off[row[s]! + 1]! - off[row[s]!]!;
  }
  if (idBytes > MAX_U32) throw new GatherInputError(`merged ids take ${idBytes} bytes, more than u32 offsets address`);
  const ids = new Uint8Array(idBytes);
  // Typed arrays are host-endian; like the rest of the TS gather this assumes a little-endian host.
  const offsets = new Uint32Array(count + 1);
  const values = new Float64Array(count);
  let at = 0;
  for (let s = 0; s < count; s++) {
    const p = parts[from[s]!]!;
    const blob = p.blob;
    const r = row[s]!;
    // A byte loop: ids are short, and a subarray per id would cost more than its copy.
    for (let i = p.offsets[r]!, end = p.offsets[r + 1]!; i < end; i++) ids[at++] = blob[i]!;
    offsets[s + 1] = at;
    values[s] = Math.min(sum[s]!, 1);
  }
  return { ids, offsets: new Uint8Array(offsets.buffer), values: new Uint8Array(values.buffer), rows: count, rejected };
}

/**
 * Pure-TS Imagine merge (docs/gather-spec.md): the test oracle, the benchmark baseline and the
 * fallback when the addon is missing or the input is too small to pay for the FFI call.
 */
import type { ImagineMerged, ImaginePart, Rejection } from './gather-types.js';
import { checkAll, checkU32, duplicateRejection, latin1Blob, withoutDuplicates, type CheckedPart } from './reference-validate.js';

const imagineColumns = (p: ImaginePart) => [['confidence', p.confidence]] as const;

/** Below this many rows a comparator sort beats the radix sort's two 64 Ki-entry count tables. */
const RADIX_MIN_ROWS = 4096;
/** Bits of f32 1.0: every accepted confidence has bits in [0, ONE_BITS]. */
const ONE_BITS = 0x3f80_0000;

/** Every accepted row, sorted by confidence desc, then partition index asc, then row asc. */
export function referenceMergeImagine(parts: readonly ImaginePart[], maxRows: number): ImagineMerged {
  checkU32('maxRows', maxRows);
  const { checked, rejected } = checkAll(parts, maxRows, imagineColumns, false);
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
  const order = total >= RADIX_MIN_ROWS ? radixOrder(conf) : comparatorOrder(conf);
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
  const seen = new Set<string>();
  for (const p of parts) {
    seen.clear();
    const ids = latin1Blob(p);
    const off = p.offsets;
    for (let i = 0; i < p.n; i++) {
      const key = ids.substring(off[i]!, off[i + 1]!);
      if (seen.has(key)) {
        duplicates.push(duplicateRejection(p, i));
        break;
      }
      seen.add(key);
    }
  }
}

function comparatorOrder(conf: Float32Array): Uint32Array {
  const order = new Uint32Array(conf.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  // -0 and +0 compare equal here, as they do natively; position breaks every tie.
  return order.sort((a, b) => conf[b]! - conf[a]! || a - b);
}

/** Stable LSD radix sort (two 16-bit digits) on descending confidence. */
function radixOrder(conf: Float32Array): Uint32Array {
  const n = conf.length;
  const bits = new Uint32Array(conf.buffer, conf.byteOffset, n);
  const key = new Uint32Array(n);
  // -0 has the sign bit set; it must sort with +0. Descending value = ascending (ONE_BITS - bits).
  for (let i = 0; i < n; i++) key[i] = ONE_BITS - (bits[i]! === 0x8000_0000 ? 0 : bits[i]!);
  let src = new Uint32Array(n);
  for (let i = 0; i < n; i++) src[i] = i;
  let dst = new Uint32Array(n);
  const counts = new Uint32Array(65536);
  for (const shift of [0, 16]) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(key[i]! >>> shift) & 0xffff]!++;
    let run = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[d]!;
      counts[d] = run;
      run += c;
    }
    for (let i = 0; i < n; i++) {
      const s = src[i]!;
      dst[counts[(key[s]! >>> shift) & 0xffff]!++] = s;
    }
    [src, dst] = [dst, src];
  }
  return src;
}

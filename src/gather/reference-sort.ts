/**
 * Stable descending sort of unit-interval f32 values, shared by the Imagine and Recall
 * references: positions of equal values keep their input order, and -0 sorts as +0 (as the
 * native side's `partial_cmp` does).
 */

/** Below this many rows a comparator sort beats the radix sort's three passes. */
const RADIX_MIN_ROWS = 512;
const DIGIT_BITS = 11;
const DIGIT_VALUES = 1 << DIGIT_BITS;
const DIGIT_MASK = DIGIT_VALUES - 1;
/** Bits of f32 1.0: every accepted value has bits in [0, ONE_BITS]. */
const ONE_BITS = 0x3f80_0000;

/** Positions of `values` (each in [0, 1], -0 allowed) by value desc, ties in position order. */
export function descendingOrder(values: Float32Array): Uint32Array {
  return values.length >= RADIX_MIN_ROWS ? radixOrder(values) : comparatorOrder(values);
}

function identity(n: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order;
}

function comparatorOrder(conf: Float32Array): Uint32Array {
  const order = identity(conf.length);
  // -0 and +0 compare equal here, as they do natively; position breaks every tie.
  return order.sort((a, b) => conf[b]! - conf[a]! || a - b);
}

/** Stable LSD radix sort on descending value: three 11-bit digits cover the 30 bits of [0, 1]. */
function radixOrder(values: Float32Array): Uint32Array {
  const n = values.length;
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  let key: Uint32Array = new Uint32Array(n);
  // -0 has the sign bit set; it must sort with +0. Descending value = ascending (ONE_BITS - bits).
  for (let i = 0; i < n; i++) key[i] = ONE_BITS - (bits[i]! === 0x8000_0000 ? 0 : bits[i]!);
  let src: Uint32Array = identity(n);
  let dst: Uint32Array = new Uint32Array(n);
  let keyDst: Uint32Array = new Uint32Array(n);
  const counts = new Uint32Array(DIGIT_VALUES);
  for (let shift = 0; shift < 33; shift += DIGIT_BITS) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(key[i]! >>> shift) & DIGIT_MASK]!++;
    let run = 0;
    for (let d = 0; d < DIGIT_VALUES; d++) {
      const c = counts[d]!;
      counts[d] = run;
      run += c;
    }
    // Keys travel with their positions so every pass reads them sequentially.
    for (let i = 0; i < n; i++) {
      const k = key[i]!;
      const at = counts[(k >>> shift) & DIGIT_MASK]!++;
      dst[at] = src[i]!;
      keyDst[at] = k;
    }
    [src, dst] = [dst, src];
    [key, keyDst] = [keyDst, key];
  }
  return src;
}

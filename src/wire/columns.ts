/**
 * Columnar partition results (DESIGN §4), as they travel between nodes and into the gather.
 *
 * Every column is raw little-endian bytes, exactly as protobufjs hands them off the wire (a
 * view into the received buffer, possibly unaligned). Ids are one UTF-8 blob plus `count + 1`
 * u32 offsets, the first 0 and the last the blob's length. An empty offsets column means zero rows.
 */

/** Ids (or any strings) of a partition result: UTF-8 blob + u32 LE offsets. */
export interface StringColumn {
  blob: Uint8Array;
  offsets: Uint8Array;
}

/** Recall: top-`limit` memories of one partition. */
export interface RecallColumns {
  ids: Uint8Array;
  idOffsets: Uint8Array;
  /** f32 LE per row. */
  lower: Uint8Array;
  /** f32 LE per row. */
  upper: Uint8Array;
  /** f32 LE per row: cosine similarity to the cue. */
  similarity: Uint8Array;
  content: Uint8Array;
  contentOffsets: Uint8Array;
  /** f64 LE per row: ms since the Unix epoch. */
  createdAt: Uint8Array;
}

/** Spread: activation map id → activation of one partition. */
export interface SpreadColumns {
  ids: Uint8Array;
  idOffsets: Uint8Array;
  /** f32 LE per row, in [0, 1]. */
  activation: Uint8Array;
}

/** Imagine: generated items of one partition. */
export interface ImagineColumns {
  ids: Uint8Array;
  idOffsets: Uint8Array;
  /** f32 LE per row, in [0, 1]. */
  confidence: Uint8Array;
  sources: Uint8Array;
  sourceOffsets: Uint8Array;
  content: Uint8Array;
  contentOffsets: Uint8Array;
  /** f32 LE, rows × dimension. */
  embeddings: Uint8Array;
  dimension: number;
}

const encoder = new TextEncoder();

/** Byte view of a typed array, without copying. */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Encodes strings as one UTF-8 blob plus u32 offsets (count + 1 of them). */
export function encodeStrings(values: readonly string[]): StringColumn {
  const offsets = new Uint32Array(values.length + 1);
  const parts: Uint8Array[] = new Array(values.length);
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const bytes = encoder.encode(values[i]!);
    parts[i] = bytes;
    total += bytes.length;
    offsets[i + 1] = total;
  }
  const blob = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    blob.set(p, at);
    at += p.length;
  }
  return { blob, offsets: bytesOf(offsets) };
}

/** Number of rows an offsets column describes (0 for an empty column). */
export function rowCount(offsets: Uint8Array): number {
  return offsets.byteLength === 0 ? 0 : offsets.byteLength / 4 - 1;
}

/** Float32Array over f32 LE bytes: a view when aligned, else one copy of the column. */
export function f32Column(bytes: Uint8Array): Float32Array {
  if (bytes.byteOffset % 4 === 0 && bytes.byteLength % 4 === 0) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }
  const copy = new Uint8Array(bytes.byteLength - (bytes.byteLength % 4));
  copy.set(bytes.subarray(0, copy.byteLength));
  return new Float32Array(copy.buffer);
}

/** Uint32Array over u32 LE bytes: a view when aligned, else one copy of the column. */
export function u32Column(bytes: Uint8Array): Uint32Array {
  if (bytes.byteOffset % 4 === 0 && bytes.byteLength % 4 === 0) {
    return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }
  const copy = new Uint8Array(bytes.byteLength - (bytes.byteLength % 4));
  copy.set(bytes.subarray(0, copy.byteLength));
  return new Uint32Array(copy.buffer);
}

/** Float64Array over f64 LE bytes: a view when aligned, else one copy of the column. */
export function f64Column(bytes: Uint8Array): Float64Array {
  if (bytes.byteOffset % 8 === 0 && bytes.byteLength % 8 === 0) {
    return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  }
  const copy = new Uint8Array(bytes.byteLength - (bytes.byteLength % 8));
  copy.set(bytes.subarray(0, copy.byteLength));
  return new Float64Array(copy.buffer);
}

const decoder = new TextDecoder();

/** Decodes row `i` of a string column (offsets already validated). */
export function stringAt(blob: Uint8Array, offsets: Uint32Array, i: number): string {
  return decoder.decode(blob.subarray(offsets[i]!, offsets[i + 1]!));
}

/**
 * Pulses of one round of a Spread over several spaces (DESIGN §10): memory id → value, f64 LE
 * per row (not f32: a pulse is compared with the threshold after it is summed, and f32 rounding
 * would move it across the threshold where the single-engine Spread does not).
 */
export interface PulseColumns {
  ids: Uint8Array;
  idOffsets: Uint8Array;
  /** f64 LE per row, in [0, 1]. */
  values: Uint8Array;
}

/** Pulse columns of `ids` with `values` (same length). */
export function encodePulses(ids: readonly string[], values: Float64Array): PulseColumns {
  const col = encodeStrings(ids);
  return { ids: col.blob, idOffsets: col.offsets, values: bytesOf(values) };
}

/** No pulses. */
export const NO_PULSES: PulseColumns = Object.freeze({ ids: new Uint8Array(0), idOffsets: new Uint8Array(0), values: new Uint8Array(0) }) as PulseColumns;

/** Rows of a pulse column after checking it is well-formed, or why it is not. */
export function pulseRows(c: PulseColumns): { ids: string[]; values: Float64Array } | string {
  const n = rowCount(c.idOffsets);
  if (c.idOffsets.byteLength % 4 !== 0) return `id offsets have ${c.idOffsets.byteLength} bytes, not a multiple of 4`;
  if (c.values.byteLength !== 8 * n) return `values have ${c.values.byteLength} bytes for ${n} rows`;
  if (n === 0) return c.ids.byteLength === 0 ? { ids: [], values: new Float64Array(0) } : 'ids have bytes but no rows';
  const o = u32Column(c.idOffsets);
  if (o[0] !== 0 || o[n] !== c.ids.byteLength) return 'id offsets do not span the blob';
  const ids: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    if (o[i + 1]! < o[i]!) return `id offsets decrease at ${i}`;
    try {
      ids[i] = strictDecoder.decode(c.ids.subarray(o[i]!, o[i + 1]!));
    } catch {
      return `id ${i} is not UTF-8`;
    }
  }
  const values = f64Column(c.values);
  for (let i = 0; i < n; i++) if (!(values[i]! >= 0 && values[i]! <= 1)) return `value ${i} (${values[i]}) is not in [0, 1]`;
  return { ids, values };
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Shapes of the gather merges (docs/gather-spec.md), shared by the TS reference, the native
 * addon and the facade. Parts are columnar wire bytes; outputs are columns that point back
 * into the parts (`partition`, `row`) so nothing is decoded until a caller reads it.
 */
import type { NativeBinding } from '../native/types.js';

/** Largest partition a Spread accepts, rows (the spec's `MAX_PARTITION_ROWS`). */
export const MAX_PARTITION_ROWS = 1_000_000;

/** Why a partition result was left out of a merge (reported as data, never thrown). */
export type RejectionCode =
  | 'BAD_OFFSETS'
  | 'TOO_LARGE'
  | 'COLUMN_LENGTH'
  | 'BAD_UTF8'
  | 'BAD_VALUE'
  | 'DUPLICATE_ID';

/** Every rejection code, in the order the spec checks them. */
export const REJECTION_CODES: readonly RejectionCode[] = [
  'BAD_OFFSETS',
  'TOO_LARGE',
  'COLUMN_LENGTH',
  'BAD_UTF8',
  'BAD_VALUE',
  'DUPLICATE_ID',
];

/** One rejected partition: its plan index, the code and a message naming the problem. */
export interface Rejection {
  partition: number;
  code: RejectionCode;
  message: string;
}

/** Common columns of every partition result: plan index plus ids (UTF-8 blob + u32 LE offsets). */
export interface PartBase {
  /** Stable index of the partition in the query plan (u32). */
  index: number;
  /** UTF-8 blob of the ids. */
  ids: Uint8Array;
  /** u32 LE offsets into `ids`, `n + 1` of them (empty = zero rows). */
  offsets: Uint8Array;
}

/** Recall partition result: confidence interval per row (f32 LE). */
export interface RecallPart extends PartBase {
  lower: Uint8Array;
  upper: Uint8Array;
}

/** Spread partition result: activation per row (f32 LE). */
export interface SpreadPart extends PartBase {
  activation: Uint8Array;
}

/** Pulses of one partition (a Spread over several spaces): f64 LE value per row, each finite and in [0, 1]. */
export interface PulsePart extends PartBase {
  values: Uint8Array;
}

/** Imagine partition result: confidence per row (f32 LE). */
export interface ImaginePart extends PartBase {
  confidence: Uint8Array;
}

/** Row pointers of a merge: output row `i` is row `row[i]` of the partition with index `partition[i]`. */
export interface MergedRows {
  partition: Uint32Array;
  row: Uint32Array;
  rejected: Rejection[];
}

/** Recall merge: winners sorted by `lower` desc, id asc, cut to `limit`. */
export interface RecallMerged extends MergedRows {
  lower: Float32Array;
  upper: Float32Array;
}

/** Spread merge: one row per distinct id, in order of first appearance. */
export interface SpreadMerged extends MergedRows {
  activation: Float32Array;
}

/**
 * Pulse merge: one row per distinct id, in order of first appearance (partition index asc, row
 * asc), as wire columns ready to send. Value `i` = min(Σ of the id's pulses in partition index
 * order, summed in f64, 1). `values` starts at a multiple of 8 bytes of its `buffer` (`offsets`
 * at a multiple of 4), so `new Float64Array(values.buffer, values.byteOffset, rows)` works on a
 * little-endian host; the native merge puts the three columns in one ArrayBuffer (values,
 * offsets, ids), so code that reads `.buffer` must honour `byteOffset` and `byteLength`.
 */
export interface PulseMerged {
  /** UTF-8 blob of the ids. */
  ids: Uint8Array;
  /** u32 LE offsets into `ids`, `rows + 1` of them, the first 0 (4 bytes when there are no rows). */
  offsets: Uint8Array;
  /** f64 LE per row, in [0, 1]. */
  values: Uint8Array;
  /** Distinct ids. */
  rows: number;
  /** In ascending partition index. */
  rejected: Rejection[];
}

/** Imagine merge: every accepted row, sorted by confidence desc. */
export interface ImagineMerged extends MergedRows {
  confidence: Float32Array;
}

/** The addon's API, as `src/native/types.ts` declares it. */
export type GatherNative = NativeBinding;

/**
 * Hand-written shape of the addon's exports (docs/gather-spec.md). `test/native-types.test.ts`
 * checks at compile time that the napi-generated `native/binding.d.cts` is assignable to it.
 *
 * Programming errors (a repeated or non-u32 partition index, a non-u32 limit or count) throw
 * an Error whose `code` is `ERR_GATHER_INPUT`; the async merges reject with it instead.
 */

import type { NativeRaftGroups } from '../raft/raft-native-types.js';

/** Why a partition result was left out of a merge. */
export type NativeRejectionCode = 'BAD_OFFSETS' | 'TOO_LARGE' | 'COLUMN_LENGTH' | 'BAD_UTF8' | 'BAD_VALUE' | 'DUPLICATE_ID';

/** A rejected partition: its plan index, the code and a message naming the problem. */
export interface NativeRejection {
  partition: number;
  code: NativeRejectionCode;
  message: string;
}

/** Columns every partition result has: plan index (u32) and ids as UTF-8 blob + u32 LE offsets. */
export interface NativePartBase {
  index: number;
  ids: Uint8Array;
  offsets: Uint8Array;
}

/** Recall part: f32 LE confidence bounds per row. */
export interface NativeRecallPart extends NativePartBase {
  lower: Uint8Array;
  upper: Uint8Array;
}

/** Spread part: f32 LE activation per row. */
export interface NativeSpreadPart extends NativePartBase {
  activation: Uint8Array;
}

/** Pulse part: f64 LE value per row. */
export interface NativePulsePart extends NativePartBase {
  values: Uint8Array;
}

/** Imagine part: f32 LE confidence per row. */
export interface NativeImaginePart extends NativePartBase {
  confidence: Uint8Array;
}

/** Output row `i` is row `row[i]` of the partition whose index is `partition[i]`. */
export interface NativeMergedRows {
  partition: Uint32Array;
  row: Uint32Array;
  /** In ascending partition index. */
  rejected: NativeRejection[];
}

export interface NativeRecallMerged extends NativeMergedRows {
  lower: Float32Array;
  upper: Float32Array;
}

export interface NativeSpreadMerged extends NativeMergedRows {
  activation: Float32Array;
}

export interface NativeImagineMerged extends NativeMergedRows {
  confidence: Float32Array;
}

/**
 * Pulse merge as wire columns, views of one ArrayBuffer: f64 LE `values` (at a multiple of 8
 * bytes in it), u32 LE `offsets` (`rows + 1`, the first 0), then the UTF-8 `ids`.
 */
export interface NativePulseMerged {
  ids: Uint8Array;
  offsets: Uint8Array;
  values: Uint8Array;
  rows: number;
  /** In ascending partition index. */
  rejected: NativeRejection[];
}

/** A node as the SWIM member is created with it (see src/cluster/swim-membership.ts). */
export interface NativeSwimIdentity {
  id: string;
  gossipAddress: string;
  grpcAddress: string;
  /** Safe integer; the newer process of one node has the larger one. */
  incarnation: number;
}

/** Foca's timing and fan-out, all non-zero u32; `probeTimeoutMs` < `probePeriodMs`. Errors throw `ERR_SWIM_CONFIG`. */
export interface NativeSwimConfig {
  probePeriodMs: number;
  probeTimeoutMs: number;
  suspectToDownMs: number;
  removeDownAfterMs: number;
  gossipPeriodMs: number;
  announcePeriodMs: number;
  indirectProbes: number;
  maxTransmissions: number;
  maxPacketBytes: number;
  /** u32 seed of foca's member shuffling. */
  seed: number;
}

/** `state` is `alive`, `suspect`, `down` or `left` (typed as string by the generator). */
export interface NativeSwimMemberView extends NativeSwimIdentity {
  state: string;
}

/** What the JS side must do: send `packets`, schedule `timers` (hand `token` back), publish `changes`. */
export interface NativeSwimEffects {
  packets: { to: string; data: Uint8Array }[];
  timers: { delayMs: number; token: number }[];
  changes: NativeSwimMemberView[];
}

/** The I/O-free foca adapter; each method returns an error message or null (the datagram/timer is then ignored). */
export interface NativeSwimMember {
  announce(gossipAddress: string): string | null;
  handleData(data: Uint8Array): string | null;
  handleTimer(token: number): string | null;
  leave(): string | null;
  /** Self included, one per node id, sorted by id. */
  members(): NativeSwimMemberView[];
  drain(): NativeSwimEffects;
}

export interface NativeBinding {
  /** Many Raft groups over raft-rs; JS owns ticks, transport and disk (src/raft/). */
  RaftGroups: new () => NativeRaftGroups;
  /** SWIM membership over foca; JS owns the socket and the timers. */
  SwimMember: new (identity: NativeSwimIdentity, config: NativeSwimConfig) => NativeSwimMember;
  /** Dedup by id (highest `lower`, then `upper`, then lower index), sort by `lower` desc / id asc, cut to `limit`. */
  mergeRecall(parts: NativeRecallPart[], limit: number): NativeRecallMerged;
  /** Per distinct id: activations summed in f64 in partition index order, clamped to 1; first-appearance order. */
  mergeSpread(parts: NativeSpreadPart[]): NativeSpreadMerged;
  /** Spread over f64 pulses: per distinct id, summed in f64 in partition index order, clamped to 1, as wire columns. */
  mergePulses(parts: NativePulsePart[]): NativePulseMerged;
  /** Every accepted row by confidence desc, partition index asc, row asc; each part capped at `maxRows`. */
  mergeImagine(parts: NativeImaginePart[], maxRows: number): NativeImagineMerged;
  /**
   * The merges on the libuv thread pool. Abort rejects with napi's AbortError (before the work
   * starts) or with an Error whose `code` is `ERR_ABORTED` and name `AbortError` (after).
   */
  mergeRecallAsync(parts: NativeRecallPart[], limit: number, signal?: AbortSignal | null): Promise<NativeRecallMerged>;
  /** `unused` only aligns the arguments with the other two async merges (Spread has no limit). */
  mergeSpreadAsync(parts: NativeSpreadPart[], unused?: number | null, signal?: AbortSignal | null): Promise<NativeSpreadMerged>;
  mergeImagineAsync(parts: NativeImaginePart[], maxRows: number, signal?: AbortSignal | null): Promise<NativeImagineMerged>;
  mergePulsesAsync(parts: NativePulsePart[], signal?: AbortSignal | null): Promise<NativePulseMerged>;
  /** Index of the first primary copy, else 0; -1 for an empty list. */
  pickOne(primary: boolean[]): number;
  /** `min(missing/expected + (partitioned ? 0.1 : 0), 0.5)` in f64, rounded to f32; counts are u32 partitions. */
  penalty(expected: number, missing: number, partitioned: boolean): number;
  /** `values[i] = f32(values[i] * f32(1 - f32(penalty)))` in place; no-op for 0. */
  applyPenalty(values: Float32Array, penalty: number): void;
}

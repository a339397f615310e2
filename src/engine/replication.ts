/**
 * The engine side of log-shipping replication (DESIGN §5). A primary's records are read by log
 * position and applied on a replica at the same position, byte for byte, so every copy's log is
 * the same sequence of records and replays to the same state. Positions start at 2 on the wire:
 * each copy writes its own header (position 1) when it creates the space from the assignment.
 */
import { InvalidArgumentError, ReplicaDivergedError, ReplicationGapError } from '../errors.js';
import type { PositionedPayload } from '../storage/log-reader.js';
import type { SpaceLog } from '../storage/space-log.js';
import { intParam } from './params.js';
import { decodeReplicated } from './replicated-record.js';
import type { SpaceState } from './space-state.js';

/** What `readRecords` returns. */
export interface ReadRecordsResult {
  /** Consecutive records from the position asked for; empty when it is past the end. */
  records: PositionedPayload[];
  /** The space's last log position when the read was made (every returned record is ≤ it). */
  lastPosition: number;
}

/** What `applyReplicated` did. */
export interface ApplyReplicatedResult {
  /** False when the replica already held this exact record. */
  applied: boolean;
  position: number;
}

/** First position that is ever shipped: 1 is the header every copy writes for itself. */
export const FIRST_REPLICATED_POSITION = 2;

/** See `Engine.readRecords`. */
export function readRecords(log: SpaceLog, fromPosition: number, maxRecords: number, maxBytes?: number): Promise<ReadRecordsResult> {
  const from = intParam('fromPosition', fromPosition, FIRST_REPLICATED_POSITION, 1, Number.MAX_SAFE_INTEGER);
  const records = intParam('maxRecords', maxRecords, 1, 1, Number.MAX_SAFE_INTEGER);
  const bytes = intParam('maxBytes', maxBytes, Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER);
  return log.read(Math.max(from, FIRST_REPLICATED_POSITION), records, bytes);
}

/** Checks the arguments of `applyReplicated` before it is queued. */
export function checkApplyArgs(position: number, payload: Uint8Array): void {
  intParam('position', position, 0, FIRST_REPLICATED_POSITION, Number.MAX_SAFE_INTEGER);
  if (!(payload instanceof Uint8Array)) throw new InvalidArgumentError('payload', payload, 'must be a Uint8Array');
}

/**
 * See `Engine.applyReplicated`; runs inside the space's write queue, so the log end cannot move
 * between the position check and the append.
 */
export async function applyReplicated(state: SpaceState, log: SpaceLog, position: number, payload: Uint8Array): Promise<ApplyReplicatedResult> {
  const last = log.position;
  if (position <= last) {
    // A retry or an overlapping catch-up: fine if it is the same record, fatal if not.
    const { records } = await log.read(position, 1, Number.MAX_SAFE_INTEGER);
    if (!sameBytes(records[0]!.payload, payload)) throw new ReplicaDivergedError(state.id, position);
    return { applied: false, position };
  }
  if (position > last + 1) throw new ReplicationGapError(state.id, last + 1, position);
  const record = decodeReplicated(state, payload);
  // Decoding and framing both happen before the first await, so the bytes applied are the bytes logged.
  const appended = await log.appendPayload(payload);
  if (record.type === 'store') state.applyStore(record, appended);
  else state.applyPatterns(record, appended);
  return { applied: true, position: appended };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

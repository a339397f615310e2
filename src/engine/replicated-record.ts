/**
 * Checks a record shipped by a primary before a replica appends it. The primary validated the
 * write it came from, so a failure here means the bytes were damaged or forged on the way, or
 * come from an incompatible writer: they are refused whole, before anything reaches the log,
 * because once appended they would be replayed (and shipped on) forever.
 */
import { InvalidArgumentError } from '../errors.js';
import { decodeRecord, type PatternsRecord, type StoreRecord } from '../storage/log-record.js';
import { MAX_FRAME_PAYLOAD_BYTES } from '../storage/frame.js';
import { checkMemoryId, checkSpaceId } from './ids.js';
import { MAX_CONTENT_BYTES } from './limits.js';
import type { SpaceState } from './space-state.js';
import { checkSources } from './store-batch.js';

/** The record that `payload` holds, or `InvalidArgumentError` on field `payload…` saying why not. */
export function decodeReplicated(state: SpaceState, payload: unknown): StoreRecord | PatternsRecord {
  if (!(payload instanceof Uint8Array)) throw new InvalidArgumentError('payload', payload, 'must be a Uint8Array');
  if (payload.byteLength === 0 || payload.byteLength > MAX_FRAME_PAYLOAD_BYTES) {
    throw new InvalidArgumentError('payload', payload, `must be 1..${MAX_FRAME_PAYLOAD_BYTES} bytes, not ${payload.byteLength}`);
  }
  let record;
  try {
    record = decodeRecord(payload);
  } catch (e) {
    throw new InvalidArgumentError('payload', payload, `is not a log record: ${(e as Error).message}`);
  }
  switch (record.type) {
    case 'space':
      throw new InvalidArgumentError('payload', payload, 'a space header is never shipped');
    case 'store':
      checkStore(state, record);
      return record;
    case 'patterns':
      checkPatterns(state, record);
      return record;
  }
}

function checkStore(state: SpaceState, record: StoreRecord): void {
  if (record.memories.length === 0 && record.associations.length === 0) {
    throw new InvalidArgumentError('payload', 'store', 'an empty store batch is never logged');
  }
  record.memories.forEach((m, i) => {
    const field = `payload.memories[${i}]`;
    checkMemoryId(m.id, `${field}.id`);
    checkVector(m.embedding, state.dimension, `${field}.embedding`);
    if (Buffer.byteLength(m.content, 'utf8') > MAX_CONTENT_BYTES) throw new InvalidArgumentError(`${field}.content`, m.content, `must be at most ${MAX_CONTENT_BYTES} UTF-8 bytes`);
    if (!(m.lower >= 0 && m.lower <= m.upper && m.upper <= 1)) throw new InvalidArgumentError(`${field}.lower`, m.lower, `0 ≤ lower ≤ upper (${m.upper}) ≤ 1 does not hold`);
    // Logged createdAt is already resolved: 0 would have become the time of the store.
    if (!(m.createdAt > 0)) throw new InvalidArgumentError(`${field}.createdAt`, m.createdAt, 'must be > 0');
  });
  record.associations.forEach((a, j) => {
    const field = `payload.associations[${j}]`;
    checkMemoryId(a.from, `${field}.from`);
    checkMemoryId(a.to, `${field}.to`);
    // The writer logs the same space as '', so its own id here is not something it wrote.
    if (a.toSpace !== '' && checkSpaceId(a.toSpace, `${field}.toSpace`) === state.id) {
      throw new InvalidArgumentError(`${field}.toSpace`, a.toSpace, 'the same space is logged as ""');
    }
    if (!(a.weight > 0 && a.weight <= 1)) throw new InvalidArgumentError(`${field}.weight`, a.weight, 'must be in (0, 1]');
  });
  // Same rule, same order as on the primary: with identical logs this always holds.
  checkSources(state, record);
}

function checkPatterns(state: SpaceState, record: PatternsRecord): void {
  if (record.patterns.length === 0) throw new InvalidArgumentError('payload.patterns', record.patterns, 'a consolidation that found nothing is never logged');
  record.patterns.forEach((p, i) => {
    const field = `payload.patterns[${i}]`;
    if (p.id.length === 0) throw new InvalidArgumentError(`${field}.id`, p.id, 'must be a non-empty string');
    checkVector(p.centroid, state.dimension, `${field}.centroid`);
    if (p.members.length === 0) throw new InvalidArgumentError(`${field}.members`, p.members, 'must not be empty');
    p.members.forEach((id, k) => checkMemoryId(id, `${field}.members[${k}]`));
  });
}

/** Right length, finite, not zero: what every logged (normalized) vector is. */
function checkVector(v: Float32Array, dimension: number, field: string): void {
  if (v.length !== dimension) throw new InvalidArgumentError(field, v, `must have the space's dimension ${dimension}, not ${v.length}`);
  let nonZero = false;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!Number.isFinite(x)) throw new InvalidArgumentError(field, x, `value at index ${i} must be finite`);
    if (x !== 0) nonZero = true;
  }
  if (!nonZero) throw new InvalidArgumentError(field, v, 'must not be the zero vector');
}

/**
 * Validation of a store batch, all of it before any of it is written: one bad entry rejects the
 * batch, which then leaves nothing in memory or on disk. The result is the log record to append.
 *
 * Storing an id that exists replaces its embedding, content, confidence and createdAt; its
 * associations stay. Restating an association (same from, to, toSpace) replaces its weight.
 * `from` must be a memory of the space (stored before, or in this batch); a same-space `to` may
 * be stored later — the edge joins spreading once it is.
 */
import { InvalidArgumentError } from '../errors.js';
import type { LoggedAssociation, LoggedMemory, StoreRecord } from '../storage/log-record.js';
import { checkMemoryId, checkSpaceId } from './ids.js';
import { DEFAULT_CONFIDENCE, MAX_BATCH_ASSOCIATIONS, MAX_BATCH_MEMORIES, MAX_CONTENT_BYTES } from './limits.js';
import type { SpaceState } from './space-state.js';
import { normalizedEmbedding } from './vector.js';

/** A memory to store. */
export interface MemoryInput {
  /** Non-empty, at most 256 UTF-8 bytes; an existing id is replaced. */
  id: string;
  /** Exactly the space's dimension, finite; stored L2-normalized. */
  embedding: Float32Array | number[];
  /** At most 64 KiB of UTF-8; default ''. */
  content?: string;
  /** 0 ≤ lower ≤ upper ≤ 1; default DEFAULT_CONFIDENCE {lower 0.5, upper 0.9}. */
  confidence?: { lower: number; upper: number };
  /** ms since the Unix epoch; 0 or absent = the time of the store. */
  createdAt?: number;
}

/** A directed weighted edge. */
export interface AssociationInput {
  /** A memory of the space: stored before, or in the same batch. */
  from: string;
  to: string;
  /** Weight in (0, 1]. */
  weight: number;
  /** Space of `to`; absent, '' or the space itself = the same space. */
  toSpace?: string;
}

/** One all-or-nothing write. */
export interface StoreBatch {
  /** At most MAX_BATCH_MEMORIES (10,000). */
  memories?: MemoryInput[];
  /** At most MAX_BATCH_ASSOCIATIONS (100,000). */
  associations?: AssociationInput[];
}

/**
 * Checks and copies a whole batch; returns the record to log, or throws `InvalidArgumentError`.
 * Runs when `store` is called, so later changes to the caller's arrays cannot reach the log;
 * whether each `from` exists is checked later by `checkSources`, in write order.
 */
export function validateBatch(state: SpaceState, batch: StoreBatch, now: number): StoreRecord {
  if (typeof batch !== 'object' || batch === null) throw new InvalidArgumentError('batch', batch, 'must be an object');
  const memories = listOf(batch.memories, 'memories', MAX_BATCH_MEMORIES);
  const associations = listOf(batch.associations, 'associations', MAX_BATCH_ASSOCIATIONS);
  const seen = new Map<string, number>();
  const loggedMemories = memories.map((m, i) => {
    const memory = checkMemory(m, `memories[${i}]`, state.dimension, now);
    const earlier = seen.get(memory.id);
    if (earlier !== undefined) throw new InvalidArgumentError(`memories[${i}].id`, memory.id, `duplicates memories[${earlier}].id`);
    seen.set(memory.id, i);
    return memory;
  });
  const loggedAssociations = associations.map((a, j) => checkAssociation(a, `associations[${j}]`, state.id));
  return { type: 'store', memories: loggedMemories, associations: loggedAssociations };
}

/** Throws unless every association's `from` is a memory of the space or of the batch itself. */
export function checkSources(state: SpaceState, record: StoreRecord): void {
  let inBatch: Set<string> | null = null;
  record.associations.forEach((a, j) => {
    if (state.memories.has(a.from)) return;
    inBatch ??= new Set(record.memories.map((m) => m.id));
    if (!inBatch.has(a.from)) {
      throw new InvalidArgumentError(`associations[${j}].from`, a.from, `is not a memory of space "${state.id}" nor of this batch`);
    }
  });
}

function listOf<T>(value: T[] | undefined, field: string, max: number): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InvalidArgumentError(field, value, 'must be an array');
  if (value.length > max) throw new InvalidArgumentError(field, value, `at most ${max} per batch`);
  return value;
}

function checkMemory(m: MemoryInput, field: string, dimension: number, now: number): LoggedMemory {
  if (typeof m !== 'object' || m === null) throw new InvalidArgumentError(field, m, 'must be an object');
  const id = checkMemoryId(m.id, `${field}.id`);
  const embedding = normalizedEmbedding(m.embedding, dimension, `${field}.embedding`);
  const content = m.content ?? '';
  if (typeof content !== 'string') throw new InvalidArgumentError(`${field}.content`, content, 'must be a string');
  if (Buffer.byteLength(content, 'utf8') > MAX_CONTENT_BYTES) {
    throw new InvalidArgumentError(`${field}.content`, content, `must be at most ${MAX_CONTENT_BYTES} UTF-8 bytes`);
  }
  const { lower, upper } = checkConfidence(m.confidence, `${field}.confidence`);
  const createdAt = m.createdAt ?? 0;
  if (typeof createdAt !== 'number' || !Number.isFinite(createdAt) || createdAt < 0) {
    throw new InvalidArgumentError(`${field}.createdAt`, createdAt, 'must be a finite number of ms ≥ 0');
  }
  return { id, embedding, content, lower, upper, createdAt: createdAt === 0 ? now : createdAt };
}

function checkConfidence(c: { lower: number; upper: number } | undefined, field: string): { lower: number; upper: number } {
  if (c === undefined) return DEFAULT_CONFIDENCE;
  if (typeof c !== 'object' || c === null) throw new InvalidArgumentError(field, c, 'must be { lower, upper }');
  // Stored and sent as f32: checking the rounded values keeps 0 ≤ lower ≤ upper ≤ 1 true on the wire.
  const lower = Math.fround(c.lower);
  const upper = Math.fround(c.upper);
  if (typeof c.lower !== 'number' || !(lower >= 0 && lower <= 1)) throw new InvalidArgumentError(`${field}.lower`, c.lower, 'must be in [0, 1]');
  if (typeof c.upper !== 'number' || !(upper >= 0 && upper <= 1)) throw new InvalidArgumentError(`${field}.upper`, c.upper, 'must be in [0, 1]');
  if (lower > upper) throw new InvalidArgumentError(`${field}.lower`, c.lower, `must not exceed upper (${c.upper})`);
  return { lower, upper };
}

function checkAssociation(a: AssociationInput, field: string, space: string): LoggedAssociation {
  if (typeof a !== 'object' || a === null) throw new InvalidArgumentError(field, a, 'must be an object');
  const from = checkMemoryId(a.from, `${field}.from`);
  const to = checkMemoryId(a.to, `${field}.to`);
  let toSpace = a.toSpace ?? '';
  if (toSpace !== '') toSpace = checkSpaceId(toSpace, `${field}.toSpace`);
  if (toSpace === space) toSpace = '';
  const weight = a.weight;
  if (typeof weight !== 'number' || !(weight > 0 && weight <= 1)) {
    throw new InvalidArgumentError(`${field}.weight`, weight, 'must be in (0, 1]');
  }
  return { from, to, toSpace, weight };
}

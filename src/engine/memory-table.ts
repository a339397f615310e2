/**
 * The memories of one space in flat columns: slot i holds one memory, its embedding at
 * `vectors[i * dimension …]`. Columns grow by doubling; a replaced memory keeps its slot, so
 * slots never move and queries scan `0 … size` without holes.
 */
import type { LoggedMemory } from '../storage/log-record.js';
import { VectorArena } from './vector-arena.js';

const INITIAL_CAPACITY = 16;

export class MemoryTable {
  readonly dimension: number;
  /** Slots in use. */
  size = 0;
  ids: string[] = [];
  contents: string[] = [];
  /** L2-normalized embeddings, `capacity × dimension`, and the recall scan over them. */
  readonly arena: VectorArena;
  lower: Float32Array;
  upper: Float32Array;
  /** ms since the Unix epoch. */
  createdAt: Float64Array;
  private readonly slots = new Map<string, number>();

  constructor(dimension: number) {
    this.dimension = dimension;
    this.arena = new VectorArena(dimension, INITIAL_CAPACITY);
    this.lower = new Float32Array(INITIAL_CAPACITY);
    this.upper = new Float32Array(INITIAL_CAPACITY);
    this.createdAt = new Float64Array(INITIAL_CAPACITY);
  }

  /** L2-normalized embeddings, `capacity × dimension`; a new array after every growth. */
  get vectors(): Float32Array {
    return this.arena.vectors;
  }

  /** Slot of a memory id, or undefined. */
  slotOf(id: string): number | undefined {
    return this.slots.get(id);
  }

  has(id: string): boolean {
    return this.slots.has(id);
  }

  /** Inserts or replaces; returns whether the id was new. */
  put(m: LoggedMemory): boolean {
    let slot = this.slots.get(m.id);
    const added = slot === undefined;
    if (slot === undefined) {
      if (this.size === this.lower.length) this.grow();
      slot = this.size++;
      this.slots.set(m.id, slot);
      this.ids.push(m.id);
      this.contents.push(m.content);
    } else {
      this.contents[slot] = m.content;
    }
    this.vectors.set(m.embedding, slot * this.dimension);
    this.lower[slot] = m.lower;
    this.upper[slot] = m.upper;
    this.createdAt[slot] = m.createdAt;
    return added;
  }

  /** Embedding of a slot, as a view (valid until the next insert). */
  vectorAt(slot: number): Float32Array {
    return this.vectors.subarray(slot * this.dimension, (slot + 1) * this.dimension);
  }

  /** Midpoint of a slot's confidence interval: the single figure queries weigh sources by. */
  confidenceMid(slot: number): number {
    return (this.lower[slot]! + this.upper[slot]!) / 2;
  }

  private grow(): void {
    const capacity = this.lower.length * 2;
    this.arena.grow(capacity);
    this.lower = grown(this.lower, new Float32Array(capacity));
    this.upper = grown(this.upper, new Float32Array(capacity));
    this.createdAt = grown(this.createdAt, new Float64Array(capacity));
  }
}

function grown<T extends Float32Array | Float64Array>(old: T, next: T): T {
  next.set(old);
  return next;
}

/**
 * Everything one space holds in memory, changed only by applying log records — the same path
 * for a live write and for replay, so a reopened space answers exactly as before.
 */
import type { LoggedAssociation, LoggedPattern, PatternsRecord, StoreRecord } from '../storage/log-record.js';
import { MemoryTable } from './memory-table.js';

/** Same-space association graph over memory slots, CSR layout: edges of slot i are `offsets[i] … offsets[i+1]`. */
export interface Adjacency {
  offsets: Uint32Array;
  targets: Uint32Array;
  weights: Float64Array;
}

export class SpaceState {
  readonly id: string;
  readonly dimension: number;
  readonly memories: MemoryTable;
  /** Number of log records applied, the header included. */
  logPosition: number;
  readonly patterns: LoggedPattern[] = [];
  /** Ids of the memories that belong to a pattern. */
  readonly patterned = new Set<string>();
  private readonly edges = new Map<string, LoggedAssociation>();
  /** Rebuilt on the first spread after a write: writes come in batches, spreads in bursts. */
  private adjacencyCache: Adjacency | null = null;

  constructor(id: string, dimension: number, logPosition: number) {
    this.id = id;
    this.dimension = dimension;
    this.memories = new MemoryTable(dimension);
    this.logPosition = logPosition;
  }

  /** Number of distinct associations (from, to, toSpace). */
  get associations(): number {
    return this.edges.size;
  }

  applyStore(record: StoreRecord, position: number): void {
    for (const m of record.memories) this.memories.put(m);
    for (const a of record.associations) {
      // Restating an edge replaces its weight rather than adding a parallel edge.
      this.edges.set(JSON.stringify([a.from, a.toSpace, a.to]), a);
    }
    if (record.memories.length > 0 || record.associations.length > 0) this.adjacencyCache = null;
    this.logPosition = position;
    this.#noteIndex(record.index);
  }

  applyPatterns(record: PatternsRecord, position: number): void {
    for (const p of record.patterns) {
      this.patterns.push(p);
      for (const id of p.members) this.patterned.add(id);
    }
    this.logPosition = position;
    this.#noteIndex(record.index);
  }

  /**
   * The highest Raft index of the space group applied to this space (0 before any): entries at
   * or below it are already in the log. Restored by replay, since every such record carries it.
   */
  raftIndex = 0;

  #noteIndex(index: number | undefined): void {
    if (index !== undefined && index > this.raftIndex) this.raftIndex = index;
  }

  /**
   * Same-space edges between stored memories. Cross-space edges are left out (spreading across
   * partitions is later work, DESIGN §7), and so are edges to an id not stored yet: they join
   * the graph once that memory is stored.
   */
  adjacency(): Adjacency {
    if (this.adjacencyCache !== null) return this.adjacencyCache;
    const table = this.memories;
    const n = table.size;
    const from = new Uint32Array(this.edges.size);
    const to = new Uint32Array(this.edges.size);
    const weight = new Float64Array(this.edges.size);
    const counts = new Uint32Array(n + 1);
    let m = 0;
    for (const e of this.edges.values()) {
      if (e.toSpace !== '') continue;
      const f = table.slotOf(e.from);
      const t = table.slotOf(e.to);
      if (f === undefined || t === undefined) continue;
      from[m] = f;
      to[m] = t;
      weight[m] = e.weight;
      counts[f + 1]!++;
      m++;
    }
    const offsets = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + counts[i + 1]!;
    const cursor = offsets.slice(0, n);
    const targets = new Uint32Array(m);
    const weights = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      const at = cursor[from[k]!]!++;
      targets[at] = to[k]!;
      weights[at] = weight[k]!;
    }
    this.adjacencyCache = { offsets, targets, weights };
    return this.adjacencyCache;
  }
}

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

/**
 * Cross-space edges of stored memories, CSR over slots: the edges of slot i are
 * `offsets[i] … offsets[i+1]`, each to memory `to[e]` of space `spaces[space[e]]`. The target
 * may not exist (its space is another partition): the receiving partition drops such pulses.
 */
export interface CrossAdjacency {
  offsets: Uint32Array;
  /** Index into `spaces` per edge. */
  space: Uint32Array;
  to: string[];
  weights: Float64Array;
  spaces: string[];
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
  private crossCache: CrossAdjacency | null = null;

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
    if (record.memories.length > 0 || record.associations.length > 0) {
      this.adjacencyCache = null;
      this.crossCache = null;
    }
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
   * Same-space edges between stored memories. Cross-space edges are left out (they are
   * `crossAdjacency()`), and so are edges to an id not stored yet: they join the graph once that
   * memory is stored.
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

  /** Edges from a stored memory to another space's memory (a Spread over several spaces, DESIGN §10). */
  crossAdjacency(): CrossAdjacency {
    if (this.crossCache !== null) return this.crossCache;
    const table = this.memories;
    const n = table.size;
    const counts = new Uint32Array(n + 1);
    const edges: { from: number; space: number; to: string; weight: number }[] = [];
    const spaceIndex = new Map<string, number>();
    const spaces: string[] = [];
    for (const e of this.edges.values()) {
      if (e.toSpace === '') continue;
      const f = table.slotOf(e.from);
      if (f === undefined) continue;
      let s = spaceIndex.get(e.toSpace);
      if (s === undefined) {
        s = spaces.length;
        spaces.push(e.toSpace);
        spaceIndex.set(e.toSpace, s);
      }
      edges.push({ from: f, space: s, to: e.to, weight: e.weight });
      counts[f + 1]!++;
    }
    const offsets = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + counts[i + 1]!;
    const cursor = offsets.slice(0, n);
    const space = new Uint32Array(edges.length);
    const to: string[] = new Array(edges.length);
    const weights = new Float64Array(edges.length);
    for (const e of edges) {
      const at = cursor[e.from]!++;
      space[at] = e.space;
      to[at] = e.to;
      weights[at] = e.weight;
    }
    this.crossCache = { offsets, space, to, weights, spaces };
    return this.crossCache;
  }
}

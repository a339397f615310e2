/**
 * Consolidate: groups memories into semantic patterns and stores them durably. Memories not yet
 * in a pattern are visited in id order; each one seeds a pattern with every later such memory
 * whose cosine to it is ≥ `threshold` (default 0.9), kept when it has at least 2 members;
 * pattern = id `pattern:<seed id>`, centroid = normalized mean of the members, member ids.
 * Existing patterns never change, so running it again without new memories creates nothing.
 * Returns the space's memory count, patterns created, patterns in total, memories in patterns,
 * and the duration in ms. Cost is quadratic in the memories not yet in a pattern.
 */
import type { LoggedPattern } from '../storage/log-record.js';
import { compareIds } from './ids.js';
import { DEFAULT_CONSOLIDATE_THRESHOLD, MIN_PATTERN_MEMBERS } from './limits.js';
import { numberParam } from './params.js';
import type { SpaceState } from './space-state.js';
import { dotAt } from './vector.js';

/** A consolidation run on one space. */
export interface ConsolidateInput {
  /** Cosine similarity to the seed that admits a memory to its pattern, in [-1, 1]; default 0.9. */
  threshold?: number;
  /**
   * Stop looking for patterns at this time (ms since the epoch) and keep what was found: the
   * seeds not visited yet stay free for the next run. Default: run to the end.
   */
  deadline?: number;
}

/** What a consolidation did; counts only, no confidence. */
export interface ConsolidateOutput {
  /** Memories in the space. */
  memories: number;
  patternsCreated: number;
  patternsTotal: number;
  /** Memories that belong to a pattern. */
  memoriesInPatterns: number;
  /** Wall time of the run, ms, the durable write included. */
  durationMs: number;
  /** True when the run reached its deadline before visiting every free memory (run it again). */
  stoppedEarly: boolean;
}

/** Work between two yields to the event loop, ms: gossip, heartbeats and queries wait at most this long. */
export const CONSOLIDATE_SLICE_MS = 8;

/** Checked threshold of a consolidation query. */
export function consolidateThreshold(q: ConsolidateInput): number {
  return numberParam('threshold', q.threshold, DEFAULT_CONSOLIDATE_THRESHOLD, -1, 1);
}

/**
 * `findPatterns` in slices of CONSOLIDATE_SLICE_MS, yielding to the event loop between them (the
 * run is quadratic: on a large space one synchronous run would stall gossip long enough for the
 * node's peers to mark it down), and stopping at `deadline`. The caller must keep the space's
 * writes out while it runs (the engine runs it in the space's write queue).
 */
export async function findPatternsSliced(state: SpaceState, threshold: number, deadline = Infinity): Promise<{ patterns: LoggedPattern[]; stoppedEarly: boolean }> {
  const run = patternSearch(state, threshold);
  let sliceEnd = performance.now() + CONSOLIDATE_SLICE_MS;
  for (;;) {
    const step = run.next();
    if (step.done) return { patterns: step.value, stoppedEarly: false };
    const now = performance.now();
    if (Date.now() >= deadline) return { patterns: step.value, stoppedEarly: true };
    if (now >= sliceEnd) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceEnd = performance.now() + CONSOLIDATE_SLICE_MS;
    }
  }
}

/** The new patterns a run would create (empty when there are none), in one synchronous run. */
export function findPatterns(state: SpaceState, threshold: number): LoggedPattern[] {
  const run = patternSearch(state, threshold);
  for (;;) {
    const step = run.next();
    if (step.done) return step.value;
  }
}

/** The search, yielding the patterns found so far after each seed; returns them all at the end. */
function* patternSearch(state: SpaceState, threshold: number): Generator<LoggedPattern[], LoggedPattern[], void> {
  const table = state.memories;
  const dim = state.dimension;
  const free: number[] = [];
  for (let slot = 0; slot < table.size; slot++) if (!state.patterned.has(table.ids[slot]!)) free.push(slot);
  free.sort((a, b) => compareIds(table.ids[a]!, table.ids[b]!));
  const taken = new Uint8Array(free.length);
  const patterns: LoggedPattern[] = [];
  for (let i = 0; i < free.length; i++) {
    if (taken[i]) continue;
    const seed = free[i]!;
    const seedVector = table.vectorAt(seed);
    const joined: number[] = [];
    for (let j = i + 1; j < free.length; j++) {
      if (!taken[j] && dotAt(seedVector, table.vectors, free[j]! * dim, dim) >= threshold) joined.push(j);
    }
    if (joined.length + 1 >= MIN_PATTERN_MEMBERS) {
      for (const j of joined) taken[j] = 1;
      const members = [seed, ...joined.map((j) => free[j]!)];
      patterns.push({ id: `pattern:${table.ids[seed]!}`, centroid: centroid(state, members), members: members.map((s) => table.ids[s]!) });
    }
    yield patterns;
  }
  return patterns;
}

function centroid(state: SpaceState, slots: number[]): Float32Array {
  const dim = state.dimension;
  const sum = new Float64Array(dim);
  for (const slot of slots) {
    const base = slot * dim;
    for (let d = 0; d < dim; d++) sum[d] = sum[d]! + state.memories.vectors[base + d]!;
  }
  let norm = 0;
  for (let d = 0; d < dim; d++) norm += sum[d]! * sum[d]!;
  // Opposite members can cancel out under a negative threshold; the plain mean is then all there is.
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 1 / slots.length;
  const out = new Float32Array(dim);
  for (let d = 0; d < dim; d++) out[d] = sum[d]! * scale;
  return out;
}

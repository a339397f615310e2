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
}

/** Checked threshold of a consolidation query. */
export function consolidateThreshold(q: ConsolidateInput): number {
  return numberParam('threshold', q.threshold, DEFAULT_CONSOLIDATE_THRESHOLD, -1, 1);
}

/** The new patterns a run would create (empty when there are none). */
export function findPatterns(state: SpaceState, threshold: number): LoggedPattern[] {
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
    if (joined.length + 1 < MIN_PATTERN_MEMBERS) continue;
    for (const j of joined) taken[j] = 1;
    const members = [seed, ...joined.map((j) => free[j]!)];
    patterns.push({ id: `pattern:${table.ids[seed]!}`, centroid: centroid(state, members), members: members.map((s) => table.ids[s]!) });
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

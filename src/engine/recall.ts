/**
 * Recall: given a cue (an embedding of the space's dimension, or a text embedded by the
 * deterministic text embedder), returns up to `limit` memories (default 10, at most 1000) whose
 * cosine similarity to the cue is at least `threshold` (default 0), most similar first, ties by
 * id. Each row carries the similarity and the memory's stored confidence interval scaled by
 * max(similarity, 0) — so the gather's sort by `lower` ranks by how similar × how sure — plus its
 * content and createdAt.
 */
import { bytesOf, encodeStrings, type RecallColumns } from '../wire/columns.js';
import { resolveCue, type Cue } from './cue.js';
import { DEFAULT_RECALL_LIMIT, DEFAULT_RECALL_THRESHOLD, MAX_RECALL_LIMIT } from './limits.js';
import { intParam, numberParam } from './params.js';
import type { SpaceState } from './space-state.js';
import { TopK } from './top-k.js';
import { clampCosine } from './vector.js';

/** A recall query on one space. */
export interface RecallInput {
  cue: Cue;
  /** Rows to return, 1..MAX_RECALL_LIMIT (1000); default 10. */
  limit?: number;
  /** Minimum cosine similarity, in [-1, 1]; default 0. */
  threshold?: number;
}

export function recall(state: SpaceState, q: RecallInput): RecallColumns {
  const limit = intParam('limit', q.limit, DEFAULT_RECALL_LIMIT, 1, MAX_RECALL_LIMIT);
  const threshold = numberParam('threshold', q.threshold, DEFAULT_RECALL_THRESHOLD, -1, 1);
  const cue = resolveCue(q.cue, state.dimension);
  const top = nearest(state, cue, limit, threshold);
  return recallColumns(state, top);
}

/** The `limit` slots most similar to a normalized cue with similarity ≥ threshold (f32-rounded, so ties match the output). */
export function nearest(state: SpaceState, cue: Float32Array, limit: number, threshold: number): TopK {
  const table = state.memories;
  const scores = table.arena.scan(cue, table.size);
  const top = new TopK(limit, table.ids);
  let floor = threshold;
  for (let slot = 0, n = scores.length; slot < n; slot++) {
    const sim = Math.fround(clampCosine(scores[slot]!));
    if (sim < floor) continue;
    top.offer(sim, slot);
    if (top.size === limit && top.floor > floor) floor = top.floor;
  }
  return top;
}

function recallColumns(state: SpaceState, top: TopK): RecallColumns {
  const table = state.memories;
  const n = top.size;
  const ids: string[] = new Array(n);
  const contents: string[] = new Array(n);
  const lower = new Float32Array(n);
  const upper = new Float32Array(n);
  const similarity = new Float32Array(n);
  const createdAt = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const slot = top.slots[i]!;
    const sim = top.scores[i]!;
    const scale = sim > 0 ? sim : 0;
    ids[i] = table.ids[slot]!;
    contents[i] = table.contents[slot]!;
    lower[i] = table.lower[slot]! * scale;
    upper[i] = table.upper[slot]! * scale;
    similarity[i] = sim;
    createdAt[i] = table.createdAt[slot]!;
  }
  const idCol = encodeStrings(ids);
  const contentCol = encodeStrings(contents);
  return {
    ids: idCol.blob,
    idOffsets: idCol.offsets,
    lower: bytesOf(lower),
    upper: bytesOf(upper),
    similarity: bytesOf(similarity),
    content: contentCol.blob,
    contentOffsets: contentCol.offsets,
    createdAt: bytesOf(createdAt),
  };
}

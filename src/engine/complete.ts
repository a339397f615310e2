/**
 * Complete: given a partial pattern (`values` plus a `known` mask, both of the space's
 * dimension, at least one dimension known), finds the `neighbours` memories (default 5, at most
 * 100) most similar by cosine over the known dimensions only, with similarity > 0, and fills each
 * unknown dimension with their mean weighted by similarity × confidence midpoint; known values
 * are returned as given. Confidence = (weighted mean similarity) × (mean confidence midpoint of
 * the sources) × (known dimensions / dimension); sources are their ids, nearest first.
 */
import { InvalidArgumentError } from '../errors.js';
import { DEFAULT_COMPLETE_NEIGHBOURS, MAX_COMPLETE_NEIGHBOURS } from './limits.js';
import { intParam } from './params.js';
import type { SpaceState } from './space-state.js';
import { TopK } from './top-k.js';

/** A completion query on one space. */
export interface CompleteInput {
  /** One value per dimension; only the known ones are read. */
  values: Float32Array | number[];
  /** One flag per dimension: true (or non-zero) where the value is known. */
  known: boolean[] | Uint8Array;
  /** Nearest memories drawn from, 1..MAX_COMPLETE_NEIGHBOURS (100); default 5. */
  neighbours?: number;
}

/** A completed pattern. */
export interface CompleteOutput {
  /** Known values as given, unknown ones filled (0 when no memory could fill them). */
  embedding: Float32Array;
  /** In [0, 1]; 0 when no memory is similar. */
  confidence: number;
  /** Ids of the memories the unknown dimensions were filled from, nearest first. */
  sources: string[];
}

export function complete(state: SpaceState, q: CompleteInput): CompleteOutput {
  const dim = state.dimension;
  const k = intParam('neighbours', q.neighbours, DEFAULT_COMPLETE_NEIGHBOURS, 1, MAX_COMPLETE_NEIGHBOURS);
  const { values, known } = q;
  if (!(values instanceof Float32Array) && !Array.isArray(values)) throw new InvalidArgumentError('values', values, 'must be a Float32Array or an array of numbers');
  if (values.length !== dim) throw new InvalidArgumentError('values', values, `must have the space's dimension ${dim}, not ${values.length}`);
  if (!(known instanceof Uint8Array) && !Array.isArray(known)) throw new InvalidArgumentError('known', known, 'must be an array of booleans');
  if (known.length !== dim) throw new InvalidArgumentError('known', known, `must have the space's dimension ${dim}, not ${known.length}`);

  const knownDims: number[] = [];
  const cue: number[] = [];
  let cueNorm = 0;
  for (let d = 0; d < dim; d++) {
    if (!known[d]) continue;
    const v = Math.fround(values[d] as number);
    if (!Number.isFinite(v)) throw new InvalidArgumentError('values', values[d], `known value at index ${d} must be a finite f32 number`);
    knownDims.push(d);
    cue.push(v);
    cueNorm += v * v;
  }
  if (knownDims.length === 0) throw new InvalidArgumentError('known', known, 'at least one dimension must be known');
  if (cueNorm === 0) throw new InvalidArgumentError('values', values, 'the known values must not all be 0');
  cueNorm = Math.sqrt(cueNorm);

  const table = state.memories;
  const vectors = table.vectors;
  const top = new TopK(k, table.ids);
  for (let slot = 0; slot < table.size; slot++) {
    const base = slot * dim;
    let dot = 0;
    let norm = 0;
    for (let j = 0; j < knownDims.length; j++) {
      const m = vectors[base + knownDims[j]!]!;
      dot += cue[j]! * m;
      norm += m * m;
    }
    if (norm === 0) continue;
    const sim = Math.fround(Math.min(dot / (cueNorm * Math.sqrt(norm)), 1));
    if (sim > 0 && sim >= top.floor) top.offer(sim, slot);
  }

  const embedding = new Float32Array(dim);
  for (const d of knownDims) embedding[d] = values[d] as number;
  const sources: string[] = [];
  let weightSum = 0;
  let weightedSim = 0;
  let midSum = 0;
  const fill = new Float64Array(dim);
  for (let i = 0; i < top.size; i++) {
    const slot = top.slots[i]!;
    const sim = top.scores[i]!;
    const mid = table.confidenceMid(slot);
    const w = sim * mid;
    if (w <= 0) continue;
    sources.push(table.ids[slot]!);
    weightSum += w;
    weightedSim += w * sim;
    midSum += mid;
    const base = slot * dim;
    for (let d = 0; d < dim; d++) fill[d] = fill[d]! + w * vectors[base + d]!;
  }
  if (weightSum === 0) return { embedding, confidence: 0, sources: [] };
  for (let d = 0; d < dim; d++) if (!known[d]) embedding[d] = fill[d]! / weightSum;
  const confidence = (weightedSim / weightSum) * (midSum / sources.length) * (knownDims.length / dim);
  return { embedding, confidence: Math.min(Math.max(confidence, 0), 1), sources };
}

/**
 * Imagine: given a cue, takes the `limit` memories (default 5, at most 100) nearest to it by
 * cosine, with similarity > 0, and generates one item from each: embedding =
 * normalize((1 − novelty)·memory + novelty·cue) (novelty default 0.3), confidence = similarity ×
 * the source's confidence midpoint × (1 − novelty / 2), id `imagined:<space>:<source id>`,
 * content `imagined from <source content, or its id when empty>`. Rows by confidence desc, id asc.
 */
import { bytesOf, encodeStrings, type ImagineColumns } from '../wire/columns.js';
import { compareIds } from './ids.js';
import { resolveCue, type Cue } from './cue.js';
import { DEFAULT_IMAGINE_LIMIT, DEFAULT_IMAGINE_NOVELTY, MAX_IMAGINE_LIMIT } from './limits.js';
import { intParam, numberParam } from './params.js';
import { nearest } from './recall.js';
import type { SpaceState } from './space-state.js';

/** An imagine query on one space. */
export interface ImagineInput {
  cue: Cue;
  /** Items to generate, 1..MAX_IMAGINE_LIMIT (100); default 5. */
  limit?: number;
  /** Weight of the cue against the source memory, in [0, 1]; default 0.3. */
  novelty?: number;
}

interface Item {
  id: string;
  source: string;
  content: string;
  confidence: number;
  slot: number;
}

export function imagine(state: SpaceState, q: ImagineInput): ImagineColumns {
  const limit = intParam('limit', q.limit, DEFAULT_IMAGINE_LIMIT, 1, MAX_IMAGINE_LIMIT);
  const novelty = numberParam('novelty', q.novelty, DEFAULT_IMAGINE_NOVELTY, 0, 1);
  const cue = resolveCue(q.cue, state.dimension);
  const table = state.memories;
  const top = nearest(state, cue, limit, Number.MIN_VALUE);
  const items: Item[] = [];
  for (let i = 0; i < top.size; i++) {
    const slot = top.slots[i]!;
    const source = table.ids[slot]!;
    items.push({
      id: `imagined:${state.id}:${source}`,
      source,
      content: `imagined from ${table.contents[slot] || source}`,
      confidence: Math.fround(top.scores[i]! * table.confidenceMid(slot) * (1 - novelty / 2)),
      slot,
    });
  }
  items.sort((a, b) => b.confidence - a.confidence || compareIds(a.id, b.id));

  const dim = state.dimension;
  const embeddings = new Float32Array(items.length * dim);
  const confidence = new Float32Array(items.length);
  const mix = new Float64Array(dim);
  items.forEach((item, row) => {
    confidence[row] = item.confidence;
    const base = item.slot * dim;
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      const v = (1 - novelty) * table.vectors[base + d]! + novelty * cue[d]!;
      mix[d] = v;
      norm += v * v;
    }
    // Similarity > 0 keeps the mix away from zero: its dot with the cue is (1−n)·sim + n > 0.
    const scale = 1 / Math.sqrt(norm);
    for (let d = 0; d < dim; d++) embeddings[row * dim + d] = mix[d]! * scale;
  });
  const ids = encodeStrings(items.map((i) => i.id));
  const sources = encodeStrings(items.map((i) => i.source));
  const contents = encodeStrings(items.map((i) => i.content));
  return {
    ids: ids.blob,
    idOffsets: ids.offsets,
    confidence: bytesOf(confidence),
    sources: sources.blob,
    sourceOffsets: sources.offsets,
    content: contents.blob,
    contentOffsets: contents.offsets,
    embeddings: bytesOf(embeddings),
    dimension: dim,
  };
}

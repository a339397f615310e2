/** Cues of recall and imagine: an embedding, or a text embedded deterministically. */
import { InvalidArgumentError } from '../errors.js';
import { embedText } from './text-embedder.js';
import { normalizedEmbedding } from './vector.js';

/** A recall / imagine cue. */
export type Cue = { embedding: Float32Array | number[] } | { text: string };

/** The cue as an L2-normalized vector of the space's dimension. */
export function resolveCue(cue: unknown, dimension: number): Float32Array {
  if (typeof cue !== 'object' || cue === null) throw new InvalidArgumentError('cue', cue, 'must be { embedding } or { text }');
  const c = cue as { embedding?: unknown; text?: unknown };
  if (c.embedding !== undefined && c.text !== undefined) {
    throw new InvalidArgumentError('cue', cue, 'give either an embedding or a text, not both');
  }
  if (c.embedding !== undefined) return normalizedEmbedding(c.embedding, dimension, 'cue.embedding');
  if (typeof c.text === 'string') return embedText(c.text, dimension, 'cue.text');
  throw new InvalidArgumentError('cue', cue, 'must be { embedding } or { text }');
}

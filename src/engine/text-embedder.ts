/**
 * The deterministic text embedder (no model): the same text gives the same vector on every
 * machine and Node version.
 *
 * Text is NFKC-normalized and lowercased (locale-independent `toLowerCase`), then split into
 * tokens of letters and digits (`\p{L}\p{N}`). Each token contributes two kinds of features,
 * each of weight 1: the whole token (`w:<token>`), and every character trigram of `#<token>#`
 * (`t:<trigram>`, by code point), so related words share buckets. Each feature's UTF-8 bytes are
 * hashed with 32-bit FNV-1a; bucket = hash mod dimension, sign = the hash's top bit (1 → −1).
 * The summed vector is L2-normalized. A text without any letter or digit has no embedding.
 */
import { InvalidArgumentError } from '../errors.js';
import { MAX_CUE_TEXT_BYTES } from './limits.js';

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const TOKEN = /[\p{L}\p{N}]+/gu;
const encoder = new TextEncoder();

/** 32-bit FNV-1a of the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/** L2-normalized embedding of `text` in `dimension`; throws `InvalidArgumentError(field, …)` when it has no token. */
export function embedText(text: string, dimension: number, field = 'cue.text'): Float32Array {
  if (Buffer.byteLength(text, 'utf8') > MAX_CUE_TEXT_BYTES) {
    throw new InvalidArgumentError(field, text, `must be at most ${MAX_CUE_TEXT_BYTES} UTF-8 bytes`);
  }
  const sums = new Float64Array(dimension);
  let features = 0;
  for (const [token] of text.normalize('NFKC').toLowerCase().matchAll(TOKEN)) {
    addFeature(sums, 'w:' + token);
    const chars = Array.from('#' + token + '#');
    for (let i = 0; i + 3 <= chars.length; i++) addFeature(sums, 't:' + chars[i]! + chars[i + 1]! + chars[i + 2]!);
    features++;
  }
  let sum = 0;
  for (let i = 0; i < dimension; i++) sum += sums[i]! * sums[i]!;
  // Features can cancel out exactly in a tiny dimension; both cases leave no direction.
  if (features === 0 || sum === 0) throw new InvalidArgumentError(field, text, 'has no letter or digit to embed');
  const out = new Float32Array(dimension);
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < dimension; i++) out[i] = sums[i]! * scale;
  return out;
}

function addFeature(sums: Float64Array, feature: string): void {
  const hash = fnv1a32(feature);
  const bucket = hash % sums.length;
  sums[bucket] = sums[bucket]! + (hash & 0x80000000 ? -1 : 1);
}

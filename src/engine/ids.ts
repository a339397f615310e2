/** Space and memory ids: validation, size, and the one order every output uses. */
import { InvalidArgumentError } from '../errors.js';
import { MAX_MEMORY_ID_BYTES, SPACE_ID_PATTERN } from './limits.js';

/** Throws `InvalidArgumentError(field, …)` unless `value` is a valid space id. */
export function checkSpaceId(value: unknown, field = 'space'): string {
  if (typeof value !== 'string' || !SPACE_ID_PATTERN.test(value)) {
    throw new InvalidArgumentError(field, value, 'a space id is 3-64 characters of [a-z0-9_-]');
  }
  return value;
}

/** Throws `InvalidArgumentError(field, …)` unless `value` is a non-empty id of at most 256 UTF-8 bytes. */
export function checkMemoryId(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(field, value, 'must be a non-empty string');
  }
  if (Buffer.byteLength(value, 'utf8') > MAX_MEMORY_ID_BYTES) {
    throw new InvalidArgumentError(field, value, `must be at most ${MAX_MEMORY_ID_BYTES} UTF-8 bytes`);
  }
  return value;
}

/**
 * Orders ids by code point, which is the order of their UTF-8 bytes — the order the gather uses
 * (docs/gather-spec.md). Plain `<` orders UTF-16 code units and disagrees above U+FFFF.
 */
export function compareIds(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Moves surrogates (U+D800–DFFF) above the rest of the BMP, as their code points are. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

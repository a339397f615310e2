/** Small vector helpers over f32 storage with f64 accumulation. */
import { InvalidArgumentError } from '../errors.js';

/**
 * Copies `values` into a new L2-normalized Float32Array of `dimension`; throws
 * `InvalidArgumentError(field, …)` on a wrong length, a value that is not finite as f32, or a
 * zero vector (it has no direction, so no cosine).
 */
export function normalizedEmbedding(values: unknown, dimension: number, field: string): Float32Array {
  if (!(values instanceof Float32Array) && !Array.isArray(values)) {
    throw new InvalidArgumentError(field, values, 'must be a Float32Array or an array of numbers');
  }
  if (values.length !== dimension) {
    throw new InvalidArgumentError(field, values, `must have the space's dimension ${dimension}, not ${values.length}`);
  }
  const out = new Float32Array(dimension);
  let sum = 0;
  for (let i = 0; i < dimension; i++) {
    const v = values[i];
    // Converting first catches numbers that overflow f32 (1e39 becomes Infinity).
    const f = typeof v === 'number' ? Math.fround(v) : NaN;
    if (!Number.isFinite(f)) throw new InvalidArgumentError(field, v, `value at index ${i} must be a finite f32 number`);
    out[i] = f;
    sum += f * f;
  }
  if (sum === 0) throw new InvalidArgumentError(field, values, 'must not be the zero vector');
  scaleInPlace(out, 1 / Math.sqrt(sum));
  return out;
}

/** Multiplies every value by `factor`. */
export function scaleInPlace(v: Float32Array | Float64Array, factor: number): void {
  for (let i = 0; i < v.length; i++) v[i] = v[i]! * factor;
}

/** L2 norm, accumulated in f64. */
export function norm(v: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  return Math.sqrt(sum);
}

/** Dot product of `q` with the `dimension` values of `data` starting at `offset`. */
export function dotAt(q: Float32Array, data: Float32Array, offset: number, dimension: number): number {
  // Four accumulators let the loads pipeline: this is the scan of every space the SIMD kernel cannot take.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  const end4 = dimension - (dimension % 4);
  for (; i < end4; i += 4) {
    s0 += q[i]! * data[offset + i]!;
    s1 += q[i + 1]! * data[offset + i + 1]!;
    s2 += q[i + 2]! * data[offset + i + 2]!;
    s3 += q[i + 3]! * data[offset + i + 3]!;
  }
  for (; i < dimension; i++) s0 += q[i]! * data[offset + i]!;
  return s0 + s1 + s2 + s3;
}

/** Clamps a cosine computed from rounded f32 values back into [-1, 1]. */
export function clampCosine(x: number): number {
  return x > 1 ? 1 : x < -1 ? -1 : x;
}

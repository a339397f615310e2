/**
 * Pure-TS pickOne / penalty / applyPenalty (docs/gather-spec.md, DESIGN §3), bit-identical to
 * the addon: f64 arithmetic rounded to f32 exactly where the spec rounds.
 */
import { checkU32 } from './reference-validate.js';

/** Largest penalty ever applied, whatever is missing (fraction). */
export const MAX_PENALTY = 0.5;
/** Extra penalty while this node is cut off from part of the cluster (fraction). */
export const PARTITIONED_PENALTY = 0.1;

/** Complete / Consolidate: index of the first primary copy, else of the first copy; -1 when empty. */
export function referencePickOne(primary: readonly boolean[]): number {
  const i = primary.indexOf(true);
  return i >= 0 ? i : primary.length > 0 ? 0 : -1;
}

/** `min(missing/expected + (partitioned ? 0.1 : 0), 0.5)` as f32; 0 when nothing is missing. Counts are partitions. */
export function referencePenalty(expected: number, missing: number, partitioned: boolean): number {
  checkU32('expected', expected);
  checkU32('missing', missing);
  if (missing === 0 || expected === 0) return 0;
  const m = Math.min(missing, expected);
  return Math.fround(Math.min(m / expected + (partitioned ? PARTITIONED_PENALTY : 0), MAX_PENALTY));
}

/** Multiplies every value by `f32(1 - f32(penalty))` in place, rounding each product to f32; no-op for 0. */
export function referenceApplyPenalty(values: Float32Array, penalty: number): void {
  const p = Math.fround(penalty);
  if (p === 0) return;
  const factor = Math.fround(1 - p);
  // A Float32Array store rounds to f32, and an f64 product of two f32 rounds to the same f32.
  for (let i = 0; i < values.length; i++) values[i] = values[i]! * factor;
}

/**
 * Query parameters: `undefined` takes the default, anything else is checked — an explicit 0 is
 * a 0 (and rejected where 0 makes no sense), never silently the default.
 */
import { InvalidArgumentError } from '../errors.js';

/** An integer in [min, max], or `fallback` when undefined. */
export function intParam(field: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(field, value, `must be an integer in [${min}, ${max}]`);
  }
  return value;
}

/** A finite number in [min, max], or `fallback` when undefined. */
export function numberParam(field: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidArgumentError(field, value, `must be a number in [${min}, ${max}]`);
  }
  return value;
}

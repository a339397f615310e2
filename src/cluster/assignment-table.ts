/**
 * The versioned space → nodes table every node agrees on (DESIGN §5). Values are immutable:
 * `assign` returns a new table, so a table handed to gossip or to a planner never changes under it.
 *
 * Agreement rule (`mergeTables`): tables are totally ordered by (version, digest) and the greater
 * one wins whole; entries of two tables are never mixed, so the result is always a table some node
 * actually wrote. Being a max over a total order, merging is commutative, associative and
 * idempotent, so every node converges on the same table whatever order gossip delivers it in.
 * The price: two nodes that change the table concurrently from the same version produce two
 * tables of equal version, and the one with the lower digest is dropped. A node that assigned a
 * space must therefore check, after merging, that its entry survived (`lostEntries`) and assign
 * it again on top of the winner.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import type { SpaceAssignment } from './cluster-view.js';
import type { Placement } from './rendezvous.js';
import { DEFAULT_DIMENSION, MAX_DIMENSION } from '../engine/limits.js';

/** A placement plus the space's dimension (default 768), as `assign` takes it. */
export interface SpacePlacement extends Placement {
  dimension?: number;
}

/** The JSON-able form of a table, as it travels in gossip and in `engram status --json`. */
export interface AssignmentTableJson {
  /** ≥ 0; 0 is the empty table every node starts from. */
  version: number;
  /** Sorted by space id. */
  entries: SpaceAssignment[];
}

export class AssignmentTable {
  /** Monotonic: every change adds 1. */
  readonly version: number;
  readonly #entries: ReadonlyMap<string, SpaceAssignment>;
  #digest: string | undefined;

  private constructor(version: number, entries: ReadonlyMap<string, SpaceAssignment>) {
    this.version = version;
    this.#entries = entries;
  }

  /** The table at version 0, with no spaces. */
  static empty(): AssignmentTable {
    return new AssignmentTable(0, new Map());
  }

  /** Parses and validates a table received from another node; throws `InvalidArgumentError` naming the bad field. */
  static fromJSON(value: unknown): AssignmentTable {
    if (!isRecord(value)) throw new InvalidArgumentError('table', value, 'must be an object');
    const version = value['version'];
    if (!isVersion(version)) throw new InvalidArgumentError('table.version', version, 'must be an integer ≥ 0');
    const raw = value['entries'];
    if (!Array.isArray(raw)) throw new InvalidArgumentError('table.entries', raw, 'must be an array');
    const entries = new Map<string, SpaceAssignment>();
    raw.forEach((e: unknown, i) => {
      const field = `table.entries[${i}]`;
      if (!isRecord(e)) throw new InvalidArgumentError(field, e, 'must be an object');
      const { space, primary, replicas, dimension, version: entryVersion } = e;
      if (!isId(space)) throw new InvalidArgumentError(`${field}.space`, space, 'must be a non-empty string');
      if (entries.has(space)) throw new InvalidArgumentError(`${field}.space`, space, 'duplicate space');
      if (!isVersion(entryVersion) || entryVersion < 1 || entryVersion > version) {
        throw new InvalidArgumentError(`${field}.version`, entryVersion, `must be an integer in 1..${version}`);
      }
      if (!Array.isArray(replicas)) throw new InvalidArgumentError(`${field}.replicas`, replicas, 'must be an array');
      entries.set(space, freezeEntry(space, checkPlacement(field, primary, replicas), checkDimension(`${field}.dimension`, dimension), entryVersion));
    });
    return new AssignmentTable(version, sortBySpace(entries));
  }

  get size(): number {
    return this.#entries.size;
  }

  get(space: string): SpaceAssignment | undefined {
    return this.#entries.get(space);
  }

  /** Every entry, sorted by space id. */
  entries(): SpaceAssignment[] {
    return [...this.#entries.values()];
  }

  /**
   * A new table at version + 1 with `space` placed as given; the same table when the placement
   * is already the current one, so re-sending a create does not churn versions through gossip.
   */
  assign(space: string, placement: SpacePlacement): AssignmentTable {
    if (!isId(space)) throw new InvalidArgumentError('space', space, 'must be a non-empty string');
    const checked = checkPlacement('placement', placement.primary, placement.replicas);
    const dimension = checkDimension('placement.dimension', placement.dimension ?? DEFAULT_DIMENSION);
    const current = this.#entries.get(space);
    if (current && sameEntry(current, checked, dimension)) return this;
    const version = this.version + 1;
    if (!Number.isSafeInteger(version)) throw new InvalidArgumentError('version', version, 'table version overflow');
    const next = new Map(this.#entries);
    next.set(space, freezeEntry(space, checked, dimension, version));
    return new AssignmentTable(version, sortBySpace(next));
  }

  /** SHA-256 (hex) of the canonical JSON form: equal on every node iff the tables are equal. */
  digest(): string {
    this.#digest ??= createHash('sha256').update(JSON.stringify(this.toJSON())).digest('hex');
    return this.#digest;
  }

  equals(other: AssignmentTable): boolean {
    return this.version === other.version && this.digest() === other.digest();
  }

  /** Canonical form: fixed key order, entries sorted by space id, replicas in their order. */
  toJSON(): AssignmentTableJson {
    return {
      version: this.version,
      entries: this.entries().map((e) => ({ space: e.space, primary: e.primary, replicas: [...e.replicas], dimension: e.dimension, version: e.version })),
    };
  }
}

/** The table every node converges on: greater version, then greater digest (see the module comment). */
export function mergeTables(a: AssignmentTable, b: AssignmentTable): AssignmentTable {
  if (a.version !== b.version) return a.version > b.version ? a : b;
  return a.digest() >= b.digest() ? a : b;
}

/** Entries of `mine` that `merged` does not hold as they were: the assignments to redo after a merge. */
export function lostEntries(mine: AssignmentTable, merged: AssignmentTable): SpaceAssignment[] {
  return mine.entries().filter((e) => {
    const kept = merged.get(e.space);
    return !kept || !sameEntry(kept, e, e.dimension);
  });
}

function checkPlacement(field: string, primary: unknown, replicas: unknown[]): Placement {
  if (!isId(primary)) throw new InvalidArgumentError(`${field}.primary`, primary, 'must be a non-empty string');
  const seen = new Set<string>([primary]);
  replicas.forEach((r, i) => {
    if (!isId(r)) throw new InvalidArgumentError(`${field}.replicas[${i}]`, r, 'must be a non-empty string');
    if (seen.has(r)) throw new InvalidArgumentError(`${field}.replicas[${i}]`, r, r === primary ? 'is also the primary' : 'named twice');
    seen.add(r);
  });
  return { primary, replicas: replicas as string[] };
}

function freezeEntry(space: string, p: Placement, dimension: number, version: number): SpaceAssignment {
  return Object.freeze({ space, primary: p.primary, replicas: Object.freeze([...p.replicas]) as string[], dimension, version });
}

function checkDimension(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_DIMENSION) {
    throw new InvalidArgumentError(field, value, `must be an integer in 1..${MAX_DIMENSION}`);
  }
  return value;
}

function sameEntry(a: SpaceAssignment, p: Placement, dimension: number): boolean {
  return a.primary === p.primary && sameList(a.replicas, p.replicas) && a.dimension === dimension;
}

// Code-unit order, not localeCompare: the canonical form must not depend on a node's locale.
function sortBySpace(entries: Map<string, SpaceAssignment>): ReadonlyMap<string, SpaceAssignment> {
  return new Map([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

function isVersion(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

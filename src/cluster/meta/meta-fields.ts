/**
 * Field checks shared by the command codec and the snapshot codec. Each reader takes a value of
 * unknown shape (parsed JSON, or an object a proposer built) and returns it typed and frozen, or
 * throws a MetaDecodeError naming the field. Objects must have exactly the expected keys: every
 * node must read the same bytes the same way, and a key this version does not know means bytes
 * of another version (which bumps the format version) or damage.
 */
import { MAX_DIMENSION, SPACE_ID_PATTERN } from '../../engine/limits.js';
import { MetaDecodeError, type MetaDecodeTarget } from './meta-errors.js';
import type { MetaMember, MetaSpace } from './meta-types.js';

/** Node ids as the node accepts them (src/node/engram-node.ts). */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** A UUID in its canonical lowercase form (what crypto.randomUUID makes). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** HOST:PORT, port 1..65535; the host is not resolved here (no I/O), only bounded. */
const ADDRESS_PATTERN = /^[^\s\u0000-\u001f\u007f]{1,249}:(\d{1,5})$/;
/** Longest request id, characters. */
export const MAX_REQUEST_ID_CHARS = 128;
/** Most copies of one space a command may name: a bound for damaged input, far above any real use. */
export const MAX_COPIES = 64;
/** Most raft ids in a configuration a command may name. */
export const MAX_CONFIG_PEERS = 4096;

/** Reads fields of one object for one decode target, naming each bad field by its path. */
export class FieldReader {
  constructor(
    readonly target: MetaDecodeTarget,
    readonly path: string,
    readonly value: Record<string, unknown>,
  ) {}

  static of(target: MetaDecodeTarget, path: string, value: unknown, keys: readonly string[]): FieldReader {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MetaDecodeError(target, path, `must be an object (got ${kindOf(value)})`);
    const record = value as Record<string, unknown>;
    const own = Object.keys(record);
    const extra = own.filter((k) => !keys.includes(k));
    if (extra.length > 0) throw new MetaDecodeError(target, path, `unknown field ${JSON.stringify(extra[0])}`);
    for (const k of keys) if (!Object.hasOwn(record, k)) throw new MetaDecodeError(target, join(path, k), 'is missing');
    return new FieldReader(target, path, record);
  }

  fail(key: string, reason: string): never {
    throw new MetaDecodeError(this.target, join(this.path, key), reason);
  }

  string(key: string, pattern: RegExp, what: string): string {
    const v = this.value[key];
    if (typeof v !== 'string' || !pattern.test(v)) this.fail(key, `must be ${what} (got ${kindOf(v)})`);
    return v;
  }

  requestId(): string {
    const v = this.value['requestId'];
    if (typeof v !== 'string' || v.length < 1 || v.length > MAX_REQUEST_ID_CHARS) this.fail('requestId', `must be a string of 1..${MAX_REQUEST_ID_CHARS} characters (got ${kindOf(v)})`);
    return v;
  }

  nodeId(key: string): string {
    return this.string(key, NODE_ID_PATTERN, '1-64 characters of [A-Za-z0-9_.-]');
  }

  uuid(key: string): string {
    return this.string(key, UUID_PATTERN, 'a lowercase UUID');
  }

  spaceId(key: string): string {
    return this.string(key, SPACE_ID_PATTERN, '3-64 characters of [a-z0-9_-]');
  }

  address(key: string): string {
    const v = this.value[key];
    const m = typeof v === 'string' ? ADDRESS_PATTERN.exec(v) : null;
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65_535) this.fail(key, `must be HOST:PORT with a port in 1..65535 (got ${kindOf(v)})`);
    return v as string;
  }

  raftId(key: string): number {
    return checkRaftId(this.target, join(this.path, key), this.value[key]);
  }

  dimension(key: string): number {
    const v = this.value[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_DIMENSION) this.fail(key, `must be an integer in 1..${MAX_DIMENSION} (got ${kindOf(v)})`);
    return v;
  }

  /** Distinct node ids, 1..MAX_COPIES of them, order kept. */
  copies(key: string): readonly string[] {
    const v = this.value[key];
    if (!Array.isArray(v) || v.length < 1 || v.length > MAX_COPIES) this.fail(key, `must be an array of 1..${MAX_COPIES} node ids (got ${kindOf(v)})`);
    const seen = new Set<string>();
    v.forEach((id: unknown, i) => {
      if (typeof id !== 'string' || !NODE_ID_PATTERN.test(id)) this.fail(`${key}[${i}]`, `must be a node id (got ${kindOf(id)})`);
      if (seen.has(id)) this.fail(`${key}[${i}]`, `names ${id} twice`);
      seen.add(id);
    });
    return Object.freeze([...(v as string[])]);
  }

  /** Distinct raft ids in ascending order (a configuration is a set; one spelling of it). */
  raftIdSet(key: string): readonly number[] {
    const v = this.value[key];
    if (!Array.isArray(v) || v.length > MAX_CONFIG_PEERS) this.fail(key, `must be an array of at most ${MAX_CONFIG_PEERS} raft ids (got ${kindOf(v)})`);
    v.forEach((id: unknown, i) => {
      checkRaftId(this.target, `${join(this.path, key)}[${i}]`, id);
      if (i > 0 && (id as number) <= (v[i - 1] as number)) this.fail(`${key}[${i}]`, 'must be ascending, without repeats');
    });
    return Object.freeze([...(v as number[])]);
  }

  member(key: string): MetaMember {
    return readMember(this.target, join(this.path, key), this.value[key]);
  }
}

export function readMember(target: MetaDecodeTarget, path: string, value: unknown): MetaMember {
  const r = FieldReader.of(target, path, value, ['nodeId', 'storageId', 'raftId', 'grpcAddress', 'gossipAddress']);
  // Built key by key in this order: the canonical form JSON.stringify writes.
  return Object.freeze({
    nodeId: r.nodeId('nodeId'),
    storageId: r.uuid('storageId'),
    raftId: r.raftId('raftId'),
    grpcAddress: r.address('grpcAddress'),
    gossipAddress: r.address('gossipAddress'),
  });
}

export function readSpace(target: MetaDecodeTarget, path: string, value: unknown): MetaSpace {
  const r = FieldReader.of(target, path, value, ['id', 'dimension', 'copies', 'leaderHint']);
  const space = Object.freeze({ id: r.spaceId('id'), dimension: r.dimension('dimension'), copies: r.copies('copies'), leaderHint: r.nodeId('leaderHint') });
  if (!space.copies.includes(space.leaderHint)) r.fail('leaderHint', `${space.leaderHint} holds no copy`);
  return space;
}

function checkRaftId(target: MetaDecodeTarget, path: string, v: unknown): number {
  // Raft reserves 0 for "none"; ids cross into the addon as JS numbers, so they must be exact.
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new MetaDecodeError(target, path, `must be a safe integer ≥ 1 (got ${kindOf(v)})`);
  return v;
}

function join(path: string, key: string): string {
  return path ? (key.startsWith('[') ? `${path}${key}` : `${path}.${key}`) : key;
}

/** A short description of a bad value for a message: never the whole of a large input. */
export function kindOf(v: unknown): string {
  if (typeof v === 'string') return v.length > 80 ? `a string of ${v.length} characters` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return typeof v;
}

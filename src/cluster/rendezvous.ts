/**
 * Rendezvous (highest-random-weight) placement of memory spaces on nodes (DESIGN §5).
 *
 * Score of a (space, node) pair: `fmix64(fnv1a64(utf8(space) ‖ 0x00 ‖ utf8(node)))`, an unsigned
 * 64-bit integer. FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3) followed by
 * MurmurHash3's 64-bit finalizer. The finalizer is there because FNV-1a alone barely stirs its
 * last input bytes into the high bits, and node ids often differ only in their last character
 * (`node-1`, `node-2`), which would bias the ranking. The NUL separator keeps `("ab", "c")` and
 * `("a", "bc")` apart. Nodes rank by score, highest first; equal scores (never seen in practice)
 * rank by node id in code-unit order. Nothing here depends on the platform, locale or run, so
 * every node computes the same placement. Changing any of this moves spaces: the scores are
 * pinned in the tests.
 */
import { InvalidArgumentError } from '../errors.js';
import type { Member, MemberState } from './cluster-view.js';

/** Copies of a space when the caller does not say: 3 (a Raft group of 2 cannot survive a failure). */
export const DEFAULT_REPLICATION_FACTOR = 3;

/** Where a space should live: a primary and its replicas in fallback order. */
export interface Placement {
  primary: string;
  replicas: string[];
}

const MASK_64 = (1n << 64n) - 1n;
const FNV_OFFSET_64 = 0xcbf29ce484222325n;
const FNV_PRIME_64 = 0x100000001b3n;
const encoder = new TextEncoder();

/** FNV-1a, 64-bit, of `bytes`. */
export function fnv1a64(bytes: Uint8Array, seed: bigint = FNV_OFFSET_64): bigint {
  let h = seed;
  for (const b of bytes) h = ((h ^ BigInt(b)) * FNV_PRIME_64) & MASK_64;
  return h;
}

/** MurmurHash3's 64-bit finalizer: every input bit affects every output bit. */
export function fmix64(x: bigint): bigint {
  let h = x & MASK_64;
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & MASK_64;
  h ^= h >> 33n;
  h = (h * 0xc4ceb9fe1a85ec53n) & MASK_64;
  h ^= h >> 33n;
  return h;
}

/** The rendezvous score of `node` for `space` (see the module comment for the exact recipe). */
export function rendezvousScore(space: string, node: string): bigint {
  // Hashing the space prefix once per space would be faster; clarity wins at these sizes.
  let h = fnv1a64(encoder.encode(space));
  h = fnv1a64(Uint8Array.of(0), h);
  h = fnv1a64(encoder.encode(node), h);
  return fmix64(h);
}

/** Distinct `nodes` in preference order for `space`; input order does not matter. */
export function rankNodes(space: string, nodes: Iterable<string>): string[] {
  const scored = [...new Set(nodes)].map((id) => ({ id, score: rendezvousScore(space, id) }));
  scored.sort((a, b) => (a.score > b.score ? -1 : a.score < b.score ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return scored.map((s) => s.id);
}

/**
 * Members a new space may be placed on: alive or suspect. `left` members are gone for good, and
 * `down` ones are left out too: a copy placed there could not be written until the node returns,
 * so a create would start under-replicated. Existing spaces never move when a member goes down
 * (the assignment table, not this function, says where they live), so excluding `down` here only
 * affects spaces created while the node is dead.
 */
export function placementCandidates(members: readonly Pick<Member, 'id' | 'state'>[]): string[] {
  return members.filter((m) => isPlaceable(m.state)).map((m) => m.id);
}

/**
 * Rendezvous placement of `space` over the members that are alive or suspect: the top-ranked
 * node is the primary, the next `replicationFactor - 1` are replicas. Fewer candidates than
 * copies gives fewer copies (never an error); no candidate at all is an error.
 */
export function placeSpace(
  space: string,
  members: readonly Pick<Member, 'id' | 'state'>[],
  replicationFactor: number = DEFAULT_REPLICATION_FACTOR,
): Placement {
  checkReplicationFactor(replicationFactor);
  const ranked = rankNodes(space, placementCandidates(members));
  const [primary, ...rest] = ranked;
  if (primary === undefined) throw new InvalidArgumentError('members', members, 'no member is alive or suspect');
  return { primary, replicas: rest.slice(0, replicationFactor - 1) };
}

/** What a create request may say about placement; any field left out is decided by rendezvous. */
export interface PlacementRequest {
  /** Node id for the primary. Default: the top rendezvous node. */
  primary?: string;
  /** Exact replica node ids (may be empty). Default: the next rendezvous nodes after the primary. */
  replicas?: string[];
  /** Copies including the primary, ≥ 1, used only for the copies rendezvous picks. Default 2. */
  replicationFactor?: number;
}

/**
 * Placement for a create: explicit choices override rendezvous and are validated (named nodes
 * must be distinct members that are alive or suspect, for the reason given at
 * `placementCandidates`). `replicas` without `primary` is rejected: which copy takes writes must
 * not be left to chance when the caller cared which nodes hold it.
 */
export function resolvePlacement(space: string, members: readonly Pick<Member, 'id' | 'state'>[], request: PlacementRequest = {}): Placement {
  const rf = request.replicationFactor ?? DEFAULT_REPLICATION_FACTOR;
  checkReplicationFactor(rf);
  if (request.primary === undefined) {
    if (request.replicas !== undefined) throw new InvalidArgumentError('replicas', request.replicas, 'given without a primary');
    return placeSpace(space, members, rf);
  }
  const states = new Map(members.map((m) => [m.id, m.state]));
  const check = (field: string, id: string): void => {
    const state = states.get(id);
    if (state === undefined || state === 'left') throw new InvalidArgumentError(field, id, 'not a member of the cluster');
    if (!isPlaceable(state)) throw new InvalidArgumentError(field, id, `member is ${state}`);
  };
  check('primary', request.primary);
  if (request.replicas === undefined) {
    const others = placementCandidates(members).filter((id) => id !== request.primary);
    return { primary: request.primary, replicas: rankNodes(space, others).slice(0, rf - 1) };
  }
  const seen = new Set([request.primary]);
  request.replicas.forEach((id, i) => {
    check(`replicas[${i}]`, id);
    if (seen.has(id)) throw new InvalidArgumentError(`replicas[${i}]`, id, id === request.primary ? 'is also the primary' : 'named twice');
    seen.add(id);
  });
  return { primary: request.primary, replicas: [...request.replicas] };
}

function isPlaceable(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect';
}

function checkReplicationFactor(rf: number): void {
  if (!Number.isSafeInteger(rf) || rf < 1) throw new InvalidArgumentError('replicationFactor', rf, 'must be an integer ≥ 1');
}

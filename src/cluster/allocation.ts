/**
 * Copy allocation (DESIGN §5, after Elasticsearch's allocator), run by the metadata leader: which
 * one copy to move next, as a pure function of the table and of what gossip says, so it can be
 * tested without a cluster. The move itself is a committed `setCopies`; the space group's leader
 * then makes the group follow it (learner, caught up, voter, old copy removed:
 * `SpaceGroups.reconcile`).
 *
 *  1. A copy whose node is down (or left) longer than `reassignAfterMs`, or no longer a member, is replaced
 *     on a live member that holds no copy of the space, in rendezvous order.
 *  2. Otherwise, when copies per live member differ by more than one (a node joined), one copy
 *     moves from the most loaded member to the least loaded one that lacks it.
 * Moves are throttled: a member that received a copy within `throttleMs` receives no other.
 */
import type { MemberState } from './cluster-view.js';
import { rankNodes } from './rendezvous.js';

/** A member takes at most one new copy per this long, ms. */
export const DEFAULT_MOVE_THROTTLE_MS = 5_000;

export interface AllocationMember {
  nodeId: string;
  state: MemberState;
  /** When it was first seen down or left (ms, same clock as `nowMs`). */
  downSinceMs?: number;
}

export interface AllocationInput {
  spaces: readonly { id: string; copies: readonly string[] }[];
  members: readonly AllocationMember[];
  nowMs: number;
  reassignAfterMs: number;
  /** When each member last received a copy (ms). */
  lastReceivedMs: ReadonlyMap<string, number>;
  throttleMs?: number;
  /** Step 2 (balance) too; false only replaces lost copies. Default true. */
  balance?: boolean;
}

export interface Move {
  space: string;
  expected: readonly string[];
  copies: string[];
  from: string;
  to: string;
  why: 'copy lost' | 'balance';
}

/** The next move, or undefined when the copies are where they should be (or none may move now). */
export function nextMove(input: AllocationInput): Move | undefined {
  const throttle = input.throttleMs ?? DEFAULT_MOVE_THROTTLE_MS;
  const byId = new Map(input.members.map((m) => [m.nodeId, m]));
  const live = input.members.filter((m) => m.state === 'alive').map((m) => m.nodeId);
  const mayReceive = (id: string) => input.nowMs - (input.lastReceivedMs.get(id) ?? -Infinity) >= throttle;
  const lost = (id: string) => {
    const m = byId.get(id);
    if (!m) return true;
    return (m.state === 'down' || m.state === 'left') && m.downSinceMs !== undefined && input.nowMs - m.downSinceMs >= input.reassignAfterMs;
  };
  for (const s of input.spaces) {
    const gone = s.copies.find(lost);
    if (gone === undefined) continue;
    const to = rankNodes(s.id, live.filter((id) => !s.copies.includes(id))).find(mayReceive);
    if (to === undefined) continue;
    return { space: s.id, expected: s.copies, copies: s.copies.map((c) => (c === gone ? to : c)), from: gone, to, why: 'copy lost' };
  }
  if (live.length < 2 || input.balance === false) return undefined;
  // Balance only when every member is up or given up on: a move while a copy is missing (or its
  // node restarting) risks a second loss.
  if (input.members.some((m) => m.state !== 'alive' && !lost(m.nodeId))) return undefined;
  const load = new Map(live.map((id) => [id, 0]));
  for (const s of input.spaces) for (const c of s.copies) if (load.has(c)) load.set(c, load.get(c)! + 1);
  const order = [...load.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  const [lightest, least] = order[0]!;
  const [heaviest, most] = order[order.length - 1]!;
  if (most - least <= 1 || !mayReceive(lightest)) return undefined;
  const space = input.spaces.find((s) => s.copies.includes(heaviest) && !s.copies.includes(lightest));
  if (!space) return undefined;
  return { space: space.id, expected: space.copies, copies: space.copies.map((c) => (c === heaviest ? lightest : c)), from: heaviest, to: lightest, why: 'balance' };
}

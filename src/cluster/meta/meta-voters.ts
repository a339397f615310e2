/**
 * Which members vote in the metadata group (DESIGN §5): up to `--meta-voters` (default 3) chosen
 * among live members, every other member a learner. Pure functions of the member states and of
 * clock values the caller passes in, for the metadata leader to act on one change at a time.
 *
 * Stability first: a voter stays a voter while it is alive, and while it is down for less than
 * `reassignAfterMs` (a restart or a short cut must not move the group's quorum around). New
 * voters are taken in rendezvous order over node ids (key: the group id), so every leader, and a
 * leader elected after this one, picks the same members from the same states.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { MemberState } from '../cluster-view.js';
import { rankNodes } from '../rendezvous.js';

/** Raft group id of the metadata group; also the rendezvous key of voter choice. */
export const META_GROUP = 'meta';
/** Voters of the metadata group when not configured (`--meta-voters`). */
export const DEFAULT_META_VOTERS = 3;
/** Time a voter may be down before it is replaced (`--reassign-after`), ms. */
export const DEFAULT_REASSIGN_AFTER_MS = 60_000;

/** A member of the metadata table with the state SWIM reports for it now. */
export interface VoterCandidate {
  nodeId: string;
  /** Its raft id now (a wiped and returned member has a new one). */
  raftId: number;
  state: MemberState;
  /** When it was first seen down, on the caller's clock, ms. Required when `state` is 'down'. */
  downSinceMs?: number;
}

export interface VoterInput {
  /** Every member the metadata table holds, each once. */
  candidates: readonly VoterCandidate[];
  /** Raft ids voting now (the applied configuration). */
  voters: readonly number[];
  /** How many voters the group should have, ≥ 1 (DEFAULT_META_VOTERS). */
  maxVoters: number;
  /** Now, on the clock `downSinceMs` was read from, ms. */
  nowMs: number;
  /** A voter down at least this long is replaced, ms ≥ 0 (DEFAULT_REASSIGN_AFTER_MS). */
  reassignAfterMs: number;
}

/** Why a voter is to be replaced. */
export type VoterLossReason =
  /** Its raft id belongs to no member now: removed, or it came back with a wiped disk (a new peer). */
  | 'gone'
  /** It left the cluster on purpose: no point waiting. */
  | 'left'
  /** Down for `reassignAfterMs` or longer. */
  | 'down';

export interface VoterReplacement {
  /** The voter to take out. */
  remove: number;
  reason: VoterLossReason;
  /**
   * The live member to take its place (added as a learner, caught up, promoted, then `remove`
   * removed), or null when no live member is left to take it: then keep the voter, since
   * removing it alone would not let the group survive any more failures than it does now.
   */
  add: number | null;
}

/**
 * The voters the group should have: current voters that are alive (or down for less than
 * `reassignAfterMs`), then alive members in rendezvous order, up to `maxVoters`. Ascending raft
 * ids. Voters to add are this minus the current ones, voters to remove the current ones minus
 * this; `voterToReplace` picks the single next swap.
 */
export function chooseVoters(input: VoterInput): number[] {
  const { byRaftId, byNodeId } = checkInput(input);
  const kept = input.voters.filter((v) => lossOf(byRaftId.get(v), input) === null).map((v) => byRaftId.get(v)!.nodeId);
  const chosen = rankNodes(META_GROUP, kept).slice(0, input.maxVoters);
  if (chosen.length < input.maxVoters) {
    const chosenSet = new Set(chosen);
    // New voters must be alive now: a suspect may be on its way down.
    const alive = input.candidates.filter((c) => c.state === 'alive' && !chosenSet.has(c.nodeId)).map((c) => c.nodeId);
    chosen.push(...rankNodes(META_GROUP, alive).slice(0, input.maxVoters - chosen.length));
  }
  return chosen.map((id) => byNodeId.get(id)!.raftId).sort((a, b) => a - b);
}

/**
 * The voter to replace next, if any: one that is gone, then one that left, then the one down
 * longest (ties: lower raft id), with its replacement (the first of `chooseVoters` not voting
 * yet). Null while every voter is alive or within its `reassignAfterMs`.
 */
export function voterToReplace(input: VoterInput): VoterReplacement | null {
  const { byRaftId } = checkInput(input);
  const lost = input.voters
    .map((v) => ({ v, loss: lossOf(byRaftId.get(v), input) }))
    .filter((x): x is { v: number; loss: { reason: VoterLossReason; since: number } } => x.loss !== null)
    .sort((a, b) => RANK[a.loss.reason] - RANK[b.loss.reason] || a.loss.since - b.loss.since || a.v - b.v);
  const first = lost[0];
  if (!first) return null;
  const add = chooseVoters(input).find((id) => !input.voters.includes(id)) ?? null;
  return { remove: first.v, reason: first.loss.reason, add };
}

const RANK: Record<VoterLossReason, number> = { gone: 0, left: 1, down: 2 };

/** Why a voter no longer counts, or null while it does. `since` orders 'down' voters. */
function lossOf(c: VoterCandidate | undefined, input: VoterInput): { reason: VoterLossReason; since: number } | null {
  if (!c) return { reason: 'gone', since: 0 };
  if (c.state === 'left') return { reason: 'left', since: 0 };
  if (c.state === 'down' && input.nowMs - c.downSinceMs! >= input.reassignAfterMs) return { reason: 'down', since: c.downSinceMs! };
  return null;
}

function checkInput(input: VoterInput): { byRaftId: Map<number, VoterCandidate>; byNodeId: Map<string, VoterCandidate> } {
  if (!Number.isSafeInteger(input.maxVoters) || input.maxVoters < 1) throw new InvalidArgumentError('maxVoters', input.maxVoters, 'must be an integer ≥ 1');
  if (!Number.isFinite(input.nowMs)) throw new InvalidArgumentError('nowMs', input.nowMs, 'must be a finite number');
  if (!Number.isFinite(input.reassignAfterMs) || input.reassignAfterMs < 0) throw new InvalidArgumentError('reassignAfterMs', input.reassignAfterMs, 'must be a finite number ≥ 0');
  const byRaftId = new Map<number, VoterCandidate>();
  const byNodeId = new Map<string, VoterCandidate>();
  input.candidates.forEach((c, i) => {
    if (byNodeId.has(c.nodeId)) throw new InvalidArgumentError(`candidates[${i}].nodeId`, c.nodeId, 'named twice');
    if (byRaftId.has(c.raftId)) throw new InvalidArgumentError(`candidates[${i}].raftId`, c.raftId, `is also ${byRaftId.get(c.raftId)!.nodeId}'s`);
    if (c.state === 'down' && !Number.isFinite(c.downSinceMs)) throw new InvalidArgumentError(`candidates[${i}].downSinceMs`, c.downSinceMs, 'a down member needs the time it went down');
    byRaftId.set(c.raftId, c);
    byNodeId.set(c.nodeId, c);
  });
  return { byRaftId, byNodeId };
}

/**
 * Writes on Raft (DESIGN §5): the leader of a space's group proposes a store batch (or a
 * consolidation's patterns) and acknowledges it once committed (`quorum`) or applied on every
 * voter (`all`). Any other node sends the write on once (hop limit 1: `ForwardStore`, which the
 * receiver proposes or refuses with the leader it knows, never sends further) and, within the
 * caller's deadline, follows a refusal's hint or tries another copy while an election runs, so
 * a dead leader costs a client one election timeout, not an error. Retrying is safe only where
 * nothing can have been written: a refusal, or a leader that could not be reached at all; a
 * write proposed but not confirmed in time is `WriteOutcomeUnknownError`, never retried here.
 */
import type { WriteGuard } from '../storage/disk-floor.js';
import { performance } from 'node:perf_hooks';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Engine } from '../engine/engine.js';
import type { ConsolidateInput, ConsolidateOutput } from '../engine/consolidate.js';
import type { StoreBatch } from '../engine/store-batch.js';
import { ConnectionBackoffError, EngramError, NotSpaceLeaderError, ReplicationTimeoutError, WriteOutcomeUnknownError, WriteUnavailableError } from '../errors.js';
import { isServiceError, typedErrorOf } from '../wire/grpc-errors.js';
import type { Logger } from '../util/logger.js';
import type { Cluster } from './cluster.js';
import type { InternalCalls } from './peer-clients.js';

/** Deadline of a write whose caller gave none, ms. */
export const DEFAULT_WRITE_TIMEOUT_MS = 10_000;
/** Wait before the next attempt while no leader is known or reachable, ms. */
const RETRY_MS = 25;
/** Time kept back from a forwarded write's deadline for its answer to travel back, ms. */
const ANSWER_MARGIN_MS = 50;

export type AckLevel = 'quorum' | 'all';

/** A store as the wire carries it (StoreRequest); forwarded unchanged. */
export interface StoreWire {
  space: string;
  memories: unknown[];
  associations: unknown[];
  ack: string | number;
}

export interface StoreOutcome {
  memories: number;
  associations: number;
  /** Copies known to hold the batch durably when it was acknowledged. */
  copies: number;
  /** Raft index of the batch's entry. */
  logPosition: number;
}

export interface SpaceWriterOptions {
  nodeId: string;
  engine: Engine;
  cluster: Cluster;
  peers: InternalCalls;
  logger: Logger;
  /** Refuses a proposal while the disk is below the node's floor (DiskFullError); committed entries are always applied. */
  writeGuard?: WriteGuard;
}

export class SpaceWriter {
  readonly #o: SpaceWriterOptions;

  constructor(options: SpaceWriterOptions) {
    this.#o = options;
  }

  /**
   * A public Store on any node: proposed here when this node leads, else sent on to the leader.
   * `deadline` is on the performance clock.
   */
  async store(wire: StoreWire, batch: StoreBatch, ack: AckLevel, deadline: number): Promise<StoreOutcome> {
    const { cluster } = this.#o;
    const space = wire.space;
    const assignment = cluster.requireAssignment(space);
    const copies = [assignment.primary, ...assignment.replicas];
    let hint: string | undefined;
    let reason = 'no leader elected yet';
    // Copies that could not be reached (kept out until the rotation starts over), and copies that
    // knew no leader (tried again as soon as anyone names them leader).
    const unreachable = new Set<string>();
    const refused = new Set<string>();
    // A call that failed after it may have reached a leader (a connection dropped mid-call): the
    // write may be committed, so running out of time then is an unknown outcome, not a failure.
    let maybeSent = false;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        // Stop with time for the answer to reach the caller before its own deadline fires.
        if (performance.now() + RETRY_MS + ANSWER_MARGIN_MS >= deadline) break;
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
      const groups = cluster.spaceGroups;
      const known = groups.has(space) ? groups.leaderOf(space) : '';
      // Who to try: the last refusal's hint, the leader this copy knows, the table's hint, then
      // each copy in turn (a follower's refusal names its leader).
      const named = [hint, known && !refused.has(known) ? known : undefined].find((id): id is string => !!id && !unreachable.has(id));
      const target = named ?? [assignment.primary, ...copies.slice(attempt % copies.length), ...copies].find(
        (id): id is string => !!id && !unreachable.has(id) && !refused.has(id),
      );
      hint = undefined;
      if (target === undefined) {
        unreachable.clear();
        refused.clear();
        continue;
      }
      if (target === this.#o.nodeId) {
        try {
          return await this.lead(space, batch, ack, deadline);
        } catch (err) {
          if (!(err instanceof NotSpaceLeaderError)) throw err;
          reason = err.leader ? `leadership moved to ${err.leader}` : 'no leader elected yet';
          hint = err.leader || undefined;
          continue;
        }
      }
      const member = cluster.member(target);
      if (!member || member.state === 'down' || member.state === 'left') {
        reason = `leader ${target} is down`;
        unreachable.add(target);
        continue;
      }
      const remaining = deadline - performance.now();
      if (remaining <= ANSWER_MARGIN_MS) break;
      try {
        return await this.#o.peers.internal<StoreOutcome>(member.grpcAddress, 'ForwardStore', wire, remaining);
      } catch (err) {
        const typed = err instanceof EngramError ? err : isServiceError(err) ? typedErrorOf(err) : undefined;
        // typedErrorOf rebuilds a refusal as its class.
        if (typed instanceof NotSpaceLeaderError) {
          const leader = typed.leader;
          reason = leader ? `${target} does not lead; the leader is ${leader}` : `${target} knows no leader (election under way)`;
          if (leader && leader !== target) hint = leader;
          else refused.add(target);
          continue;
        }
        // The pool refuses to dial a peer whose connection failed a moment ago: nothing was sent.
        const notSent = err instanceof ConnectionBackoffError;
        if (typed && !notSent) throw typed;
        if (notSent || (isServiceError(err) && err.code === GrpcStatus.UNAVAILABLE)) {
          // The leader may be gone. Sending again is safe (a store is idempotent by memory id),
          // but a connection that dropped after the request left may have carried it.
          if (!notSent && !/ECONNREFUSED|No connection established|Stream refused/.test(err.details)) maybeSent = true;
          reason = `leader ${target} is unreachable`;
          unreachable.add(target);
          this.#o.logger.warn('write not forwarded', { space, to: target, error: (err as Error).message });
          continue;
        }
        if (isServiceError(err) && err.code === GrpcStatus.DEADLINE_EXCEEDED) {
          throw new WriteOutcomeUnknownError(space, `leader ${target} did not answer in time`);
        }
        throw err;
      }
    }
    if (maybeSent) throw new WriteOutcomeUnknownError(space, `${reason}; an earlier attempt's connection dropped after sending`);
    throw new WriteUnavailableError(space, reason);
  }

  /**
   * Proposes the batch when this node leads `space`'s group, else NotSpaceLeaderError (nothing
   * written). Validation errors are the engine's, thrown before anything is proposed.
   */
  async lead(space: string, batch: StoreBatch, ack: AckLevel, deadline: number): Promise<StoreOutcome> {
    const groups = this.#o.cluster.spaceGroups;
    if (!groups.has(space) || !groups.isLeader(space)) throw new NotSpaceLeaderError(space, groups.has(space) ? groups.leaderOf(space) : '');
    const memories = batch.memories?.length ?? 0;
    const associations = batch.associations?.length ?? 0;
    const payload = this.#o.engine.prepareStore(space, batch);
    if (memories === 0 && associations === 0) return { memories, associations, copies: 0, logPosition: groups.applied(space) };
    // The proposal side only: a follower applying a committed entry never refuses it.
    await this.#o.writeGuard?.check();
    const index = await groups.propose(space, payload, deadline - ANSWER_MARGIN_MS);
    const copies = await this.#acknowledged(space, index, ack, deadline);
    return { memories, associations, copies, logPosition: index };
  }

  /**
   * A consolidation through the group: the leader finds the patterns on its copy and proposes
   * them; every copy applies the same entries. Not the leader: NotSpaceLeaderError.
   */
  async consolidate(space: string, q: ConsolidateInput): Promise<ConsolidateOutput> {
    const groups = this.#o.cluster.spaceGroups;
    if (!groups.has(space) || !groups.isLeader(space)) throw new NotSpaceLeaderError(space, groups.has(space) ? groups.leaderOf(space) : '');
    const started = performance.now();
    await this.#o.writeGuard?.check();
    const found = await this.#o.engine.preparePatterns(space, q);
    const deadline = q.deadline !== undefined ? performance.now() + Math.max(0, q.deadline - Date.now()) + ANSWER_MARGIN_MS : performance.now() + DEFAULT_WRITE_TIMEOUT_MS;
    for (const payload of found.payloads) await groups.propose(space, payload, deadline);
    return { ...this.#o.engine.patternTotals(space), patternsCreated: found.patterns, durationMs: performance.now() - started, stoppedEarly: found.stoppedEarly };
  }

  /** Copies holding `index` once `ack` is met: matched voters for `quorum`; every voter applied for `all`. */
  async #acknowledged(space: string, index: number, ack: AckLevel, deadline: number): Promise<number> {
    const { cluster } = this.#o;
    const st = cluster.spaceGroups.status(space);
    const voters = st.confState.voters;
    if (ack === 'quorum') {
      const matched = new Map(st.progress.map((p) => [p.id, p.matched]));
      return Math.max(Math.floor(voters.length / 2) + 1, voters.filter((v) => (matched.get(v) ?? 0) >= index).length);
    }
    const self = st.id;
    const results = await Promise.all(voters.filter((v) => v !== self).map(async (v) => {
      const nodeId = cluster.meta.state.memberByRaftId(v)?.nodeId;
      const member = nodeId ? cluster.member(nodeId) : undefined;
      const remaining = deadline - ANSWER_MARGIN_MS - performance.now();
      if (!member || remaining <= 0) return false;
      try {
        const res = await this.#o.peers.internal<{ applied: number }>(member.grpcAddress, 'AwaitApplied', { index, space }, remaining);
        return Number(res.applied) >= index;
      } catch {
        return false;
      }
    }));
    const achieved = 1 + results.filter(Boolean).length;
    if (achieved < voters.length) throw new ReplicationTimeoutError(space, voters.length, achieved, index);
    return achieved;
  }
}

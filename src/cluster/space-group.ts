/**
 * A space's data on Raft (DESIGN §5): the copies of a space form the Raft group `space/<id>` on
 * the node's RaftNode (beside `meta`, on the same store and transport). A store batch or a
 * consolidation's patterns is one entry, applied to the engine in log order on every copy
 * (`Engine.applyEntry`, which logs the record with its Raft index and skips what it already
 * holds, so a restarted group may hand entries out again).
 *
 * `SpaceGroups` is this node's side of every space group: the state machine, proposals that
 * resolve when their entry is applied here (matched by a random context, so a proposal that a
 * follower forwarded or a new leader committed is still recognised), apply and read-index
 * waiters, and the leader's membership changes that make the group's voters follow the copies
 * the metadata table names, one change at a time (learner, caught up, voter, then the copy that
 * left removed).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Engine } from '../engine/engine.js';
import { InvalidArgumentError, NotSpaceLeaderError, WriteOutcomeUnknownError } from '../errors.js';
import type { RaftStateMachine } from '../raft/raft-host.js';
import { RaftError, RAFT_CODES } from '../raft/raft-errors.js';
import type { RaftCommittedEntry, RaftReadState, RaftSoftState, RaftStatus } from '../raft/raft-native-types.js';
import { SPACE_ID_PATTERN } from '../engine/limits.js';
import type { Logger } from '../util/logger.js';
import type { RaftNode } from './raft-node.js';
import type { SpaceGroupStatus } from '../client/engram-client.js';

/** Prefix of every space group's id. */
export const SPACE_GROUP_PREFIX = 'space/';
/** A learner is promoted to voter only once it is this close to the leader's commit index. */
const CAUGHT_UP_ENTRIES = 10;
/** Applied entries past a space group's last snapshot before its Raft log is compacted. */
export const DEFAULT_SPACE_COMPACT_EVERY = 10_000;
/** Wait before a copy catching up from a snapshot asks again after a failure, ms. */
const CATCH_UP_RETRY_MS = 200;
/** `reconcile` looks at every group at least this often even when nothing changed, ms. */
const RECONCILE_FULL_MS = 5_000;
/** How long after creating its copy the intended first leader starts an election, ms. */
const CAMPAIGN_DELAY_MS = 150;
/** Elections the intended first leader starts while no leader is known. */
const CAMPAIGN_TRIES = 3;
/** A conf change not applied after this long no longer holds the group's next one back, ms. */
const CONF_CHANGE_PATIENCE_MS = 5_000;

/** The Raft group id of `space`'s copies. */
export function spaceGroupId(space: string): string {
  if (!SPACE_ID_PATTERN.test(space)) throw new InvalidArgumentError('space', space, `must match ${SPACE_ID_PATTERN}`);
  return `${SPACE_GROUP_PREFIX}${space}`;
}

/** The space a group id names, or undefined when it is not a space group (e.g. `meta`). */
export function spaceOfGroup(group: string): string | undefined {
  if (!group.startsWith(SPACE_GROUP_PREFIX)) return undefined;
  const space = group.slice(SPACE_GROUP_PREFIX.length);
  return SPACE_ID_PATTERN.test(space) ? space : undefined;
}

/**
 * Applies the committed entries of every space group to the engine. Conf changes and a new
 * leader's empty entry carry no data; everything else is a record for `Engine.applyEntry`.
 */
export class SpaceGroupStateMachine implements Pick<RaftStateMachine, 'apply' | 'applySnapshot'> {
  constructor(private readonly engine: Engine) {}

  async apply(group: string, entry: RaftCommittedEntry): Promise<void> {
    if (entry.confChange || entry.data.byteLength === 0) return;
    const space = spaceOfGroup(group);
    if (space === undefined) throw new InvalidArgumentError('group', group, 'is not a space group');
    await this.engine.applyEntry(space, entry.index, entry.data);
  }

  /** Snapshots are handled by `SpaceGroups` (the records come from another copy, not the snapshot). */
  applySnapshot(group: string, snapshot: { index: number; data: Uint8Array }): void {
    if (snapshot.data.byteLength === 0) return;
    throw new InvalidArgumentError('snapshot', group, 'a space snapshot needs a copy to read the records from: SpaceGroups applies it');
  }
}

/** This node's copy of a space group, as `status` reports it (the client's type is the wire's). */
export type SpaceGroupInfo = SpaceGroupStatus;

export interface SpaceGroupsOptions {
  engine: Engine;
  nodeId: string;
  raftId: number;
  logger: Logger;
  /** Node id of a raft id in the committed table, or undefined. */
  nodeOf(raftId: number): string | undefined;
  /** Raft ids the group's voters should be: the current raft ids of the members holding a copy; undefined for a space the table lacks. */
  desiredPeers(space: string): number[] | undefined;
  /** This node became the leader of `space`'s group (the cluster records the hint). */
  onLeader?(space: string): void;
  /**
   * A chunk of `space`'s log from another copy, from `fromPosition` on (empty when none has
   * more): what a copy seeded by a snapshot catches up from.
   */
  fetchLog(space: string, fromPosition: number): Promise<{ records: Uint8Array[]; raftIndex: number }>;
  /** Applied entries past the last snapshot before a group is compacted. Default DEFAULT_SPACE_COMPACT_EVERY. */
  compactEvery?: number;
}

interface Waiter {
  index: number;
  resolve(ok: boolean): void;
}

export class SpaceGroups implements RaftStateMachine {
  readonly #o: SpaceGroupsOptions;
  readonly #machine: SpaceGroupStateMachine;
  #raft: RaftNode | undefined;
  readonly #soft = new Map<string, RaftSoftState>();
  /** Last index applied here per group (conf changes and no-ops included). */
  readonly #applied = new Map<string, number>();
  readonly #pending = new Map<string, { space: string; resolve(index: number): void; reject(err: Error): void }>();
  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #reads = new Map<string, (index: number) => void>();
  readonly #confChangeAt = new Map<string, number>();
  /** Bumped by every applied conf change: `reconcile` skips a pass when nothing it reads moved. */
  #confVersion = 0;
  #reconciled = { key: '', at: -Infinity };
  /** Index of each group's last snapshot (its Raft log starts after it). */
  readonly #snapshotIndex = new Map<string, number>();
  #compacting = false;
  /** Groups whose log has grown `compactEvery` entries past their snapshot: checked after a pump. */
  readonly #toCompact = new Set<string>();
  /**
   * Groups whose copy was seeded by a snapshot it does not hold yet: the engine catches up from
   * another copy's log, chunk by chunk, and the entries raft hands out meanwhile wait here (raft
   * hands them out again after a restart, so memory is enough).
   */
  readonly #catchingUp = new Map<string, { index: number; buffer: RaftCommittedEntry[] }>();
  /** Groups with a learner to promote once caught up: looked at on every pass. */
  readonly #promoting = new Set<string>();
  #closed = false;

  constructor(options: SpaceGroupsOptions) {
    this.#o = options;
    this.#machine = new SpaceGroupStateMachine(options.engine);
  }

  /** The node's Raft, once the metadata group has opened it (entries replayed before only reach the engine). */
  attach(raft: RaftNode): void {
    this.#raft = raft;
    for (const group of raft.host.groups()) if (spaceOfGroup(group) !== undefined) this.#snapshotIndex.set(group, raft.host.status(group).snapshotIndex);
    // Catch-ups recorded while the store was opened (a crash in the middle of one) start now.
    for (const group of this.#catchingUp.keys()) void this.#catchUp(group);
  }

  get #host() {
    if (!this.#raft) throw new Error('space groups used before the node\'s Raft was attached');
    return this.#raft.host;
  }

  has(space: string): boolean {
    return this.#raft !== undefined && this.#raft.host.groups().includes(spaceGroupId(space));
  }

  /**
   * Creates this node's copy of the group unless it exists: with `voters` (the copies named when
   * the space was created) it bootstraps the group with them; with none it waits for the leader
   * to add it. `campaign`: the intended first leader starts an election at once.
   */
  async ensure(space: string, voters: number[] | null, campaign: boolean): Promise<void> {
    if (this.#closed || !this.#raft) return;
    const group = spaceGroupId(space);
    if (this.#raft.host.groups().includes(group)) return;
    const bootstrap = voters !== null && voters.includes(this.#o.raftId) ? voters : [];
    await this.#raft.host.createGroup(group, this.#o.raftId, bootstrap);
    this.#o.logger.info('space group created', { space, voters: bootstrap.map((v) => this.#name(v)), joining: bootstrap.length === 0 });
    this.#raft.pump();
    if (campaign && bootstrap.length > 0) {
      // Not at once: the other copies apply the same create about now, and a vote request that
      // reaches a copy before its group exists is lost. Again while no leader is known (a busy
      // copy may create its group late), so the intended leader wins rather than a timeout.
      let tries = 0;
      const campaign = () => {
        if (this.#closed || (this.#soft.get(group)?.leaderId ?? 0) !== 0) return;
        try {
          this.#raft!.host.campaign(group);
          this.#raft!.pump();
        } catch {
          return; // the group went away meanwhile
        }
        if (++tries < CAMPAIGN_TRIES) setTimeout(campaign, 2 * CAMPAIGN_DELAY_MS).unref();
      };
      setTimeout(campaign, CAMPAIGN_DELAY_MS).unref();
    }
  }

  /** Whether this node's copy votes in the group and holds its data (not catching up from a snapshot). */
  isVoter(space: string): boolean {
    if (!this.has(space) || this.#catchingUp.has(spaceGroupId(space))) return false;
    return this.#host.status(spaceGroupId(space)).confState.voters.includes(this.#o.raftId);
  }

  /** Leads the group and holds its data (a copy still catching up from a snapshot takes no writes). */
  isLeader(space: string): boolean {
    const group = spaceGroupId(space);
    return this.#soft.get(group)?.role === 'leader' && !this.#catchingUp.has(group);
  }

  /** Node id of the leader this copy knows of, or ''. */
  leaderOf(space: string): string {
    const id = this.#soft.get(spaceGroupId(space))?.leaderId ?? 0;
    return id ? this.#name(id) : '';
  }

  /**
   * Proposes `payload` (from `Engine.prepareStore` or `preparePatterns`) and resolves with its
   * index once it is applied here, which on the leader means committed on a majority. Not the
   * leader: NotSpaceLeaderError (nothing proposed). Not applied by `deadline` (ms, performance
   * clock): WriteOutcomeUnknownError; the entry may still commit.
   */
  propose(space: string, payload: Uint8Array, deadline: number): Promise<number> {
    const group = spaceGroupId(space);
    if (!this.isLeader(space)) throw new NotSpaceLeaderError(space, this.leaderOf(space));
    const context = randomBytes(16);
    const key = context.toString('hex');
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(key);
        reject(new WriteOutcomeUnknownError(space, this.isLeader(space) ? 'no majority of the copies confirmed it' : 'leadership changed while it was in flight'));
      }, Math.max(0, deadline - performance.now()));
      this.#pending.set(key, {
        space,
        resolve: (index) => {
          clearTimeout(timer);
          this.#pending.delete(key);
          resolve(index);
        },
        reject: (err) => {
          clearTimeout(timer);
          this.#pending.delete(key);
          reject(err);
        },
      });
      try {
        this.#host.propose(group, payload, context);
        this.#raft!.pump();
      } catch (e) {
        clearTimeout(timer);
        this.#pending.delete(key);
        // raft-rs drops a proposal while leadership moves: nothing entered the log.
        reject(e instanceof RaftError && e.code === RAFT_CODES.PROPOSAL_DROPPED ? new NotSpaceLeaderError(space, this.leaderOf(space)) : e);
      }
    });
  }

  /** Last index of the group applied here (0 when none or no group). */
  applied(space: string): number {
    return this.#applied.get(spaceGroupId(space)) ?? 0;
  }

  /** Resolves true once `index` is applied here, false at `timeoutMs`. */
  waitApplied(space: string, index: number, timeoutMs: number): Promise<boolean> {
    const group = spaceGroupId(space);
    if ((this.#applied.get(group) ?? 0) >= index) return Promise.resolve(true);
    return new Promise((resolve) => {
      let set = this.#waiters.get(group);
      if (!set) this.#waiters.set(group, (set = new Set()));
      const w: Waiter = {
        index,
        resolve: (ok) => {
          clearTimeout(timer);
          set!.delete(w);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => w.resolve(false), Math.max(0, timeoutMs));
      set.add(w);
    });
  }

  /**
   * A linearizable read point (Raft's read index, §6.4): asks the leader (raft-rs forwards the
   * request from a follower) for its commit index, confirmed by a heartbeat round to a majority,
   * then waits until this copy has applied that far. Resolves false when not done by `timeoutMs`.
   */
  async readBarrier(space: string, timeoutMs: number): Promise<boolean> {
    const group = spaceGroupId(space);
    const until = performance.now() + timeoutMs;
    const context = randomBytes(16);
    const key = context.toString('hex');
    const index = await new Promise<number | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.#reads.delete(key);
        resolve(undefined);
      }, Math.max(0, timeoutMs));
      this.#reads.set(key, (i) => {
        clearTimeout(timer);
        this.#reads.delete(key);
        resolve(i);
      });
      try {
        this.#host.readIndex(group, context);
        this.#raft!.pump();
      } catch {
        clearTimeout(timer);
        this.#reads.delete(key);
        resolve(undefined);
      }
    });
    if (index === undefined || index < 0) return false;
    return this.waitApplied(space, index, until - performance.now());
  }

  status(space: string): RaftStatus {
    return this.#host.status(spaceGroupId(space));
  }

  /** Every group this node holds, as `status` shows them. */
  info(): SpaceGroupInfo[] {
    if (!this.#raft) return [];
    const out: SpaceGroupInfo[] = [];
    for (const group of this.#raft.host.groups()) {
      const space = spaceOfGroup(group);
      if (space === undefined || !this.#o.engine.hasSpace(space)) continue;
      const st = this.#raft.host.status(group);
      const soft = this.#soft.get(group);
      const conf = st.confState;
      // A copy moved away (removed from the group, no longer in the table) is no copy any more.
      const member = conf.voters.includes(this.#o.raftId) || conf.learners.includes(this.#o.raftId);
      if (!member && !(this.#o.desiredPeers(space) ?? []).includes(this.#o.raftId)) continue;
      const learner = conf.learners.includes(this.#o.raftId);
      const kind = (id: number): 'voter' | 'learner' => (conf.learners.includes(id) ? 'learner' : 'voter');
      out.push({
        space,
        leader: st.leaderId ? this.#name(st.leaderId) : '',
        term: Math.max(st.term, soft?.term ?? 0),
        role: learner ? 'learner' : st.role,
        voters: conf.voters.map((v) => this.#name(v)).sort(),
        learners: conf.learners.map((v) => this.#name(v)).sort(),
        commit: st.commit,
        applied: this.#applied.get(group) ?? 0,
        peers: st.progress.map((p) => ({ node: this.#name(p.id), kind: kind(p.id), matched: p.matched })).sort((a, b) => (a.node < b.node ? -1 : 1)),
        digest: this.#o.engine.digest(space),
        snapshotIndex: st.snapshotIndex,
      });
    }
    return out.sort((a, b) => (a.space < b.space ? -1 : 1));
  }

  /**
   * On every group this node leads: one membership change towards the copies the table names
   * (a missing copy added as a learner; a caught-up learner promoted; a voter or learner that is
   * no copy any more removed once the copies are voters). A leader that is itself no longer a
   * copy hands leadership to a caught-up copy first.
   */
  reconcile(tableVersion: number): void {
    if (this.#closed || !this.#raft) return;
    const now = performance.now();
    // Each pass reads every led group's status: only when the table or a group's configuration
    // moved, or a change is in flight, or every RECONCILE_FULL_MS (a lost learner's progress).
    const key = `${tableVersion}/${this.#confVersion}`;
    if (key === this.#reconciled.key && this.#confChangeAt.size === 0 && this.#promoting.size === 0 && now - this.#reconciled.at < RECONCILE_FULL_MS) return;
    this.#reconciled = { key, at: now };
    for (const group of this.#raft.host.groups()) {
      const space = spaceOfGroup(group);
      if (space === undefined) continue;
      if (this.#soft.get(group)?.role !== 'leader') {
        this.#promoting.delete(group);
        continue;
      }
      if (now - (this.#confChangeAt.get(group) ?? -Infinity) < CONF_CHANGE_PATIENCE_MS) continue;
      const desired = this.#o.desiredPeers(space);
      if (!desired || desired.length === 0) continue;
      try {
        this.#reconcileGroup(group, space, new Set(desired), now);
      } catch (err) {
        this.#o.logger.warn('space group change failed', { space, error: (err as Error).message });
      }
    }
  }

  #reconcileGroup(group: string, space: string, desired: Set<number>, now: number): void {
    const host = this.#raft!.host;
    const st = host.status(group);
    const conf = st.confState;
    if (conf.votersOutgoing.length > 0) return;
    const matched = new Map(st.progress.map((p) => [p.id, p.matched]));
    const caughtUp = (id: number) => st.commit - (matched.get(id) ?? 0) <= CAUGHT_UP_ENTRIES;
    const change = (kind: 'addLearner' | 'addVoter' | 'remove', node: number, why: string) => {
      this.#o.logger.info('space group change', { space, kind, member: this.#name(node), raftId: node, why });
      this.#confChangeAt.set(group, performance.now());
      host.proposeConfChange(group, [{ kind, node }]);
      this.#raft!.pump();
    };
    if (conf.learners.some((id) => desired.has(id))) this.#promoting.add(group);
    else this.#promoting.delete(group);
    const inGroup = new Set([...conf.voters, ...conf.learners]);
    const newcomer = [...desired].find((id) => !inGroup.has(id));
    if (newcomer !== undefined) {
      this.#promoting.add(group);
      return change('addLearner', newcomer, 'new copy');
    }
    const ready = conf.learners.find((id) => desired.has(id) && caughtUp(id));
    if (ready !== undefined) return change('addVoter', ready, 'copy caught up');
    // Removals wait until every copy votes: the group never shrinks below the copies it keeps.
    if (conf.learners.some((id) => desired.has(id))) return;
    const strayLearner = conf.learners.find((id) => !desired.has(id));
    if (strayLearner !== undefined) return change('remove', strayLearner, 'no longer a copy');
    const leaving = conf.voters.find((id) => !desired.has(id) && id !== this.#o.raftId);
    if (leaving !== undefined) return change('remove', leaving, 'no longer a copy');
    if (!desired.has(this.#o.raftId) && conf.voters.includes(this.#o.raftId)) {
      const to = conf.voters.find((id) => id !== this.#o.raftId && desired.has(id) && caughtUp(id));
      if (to !== undefined) {
        this.#o.logger.info('space leadership handed on: this node is no longer a copy', { space, to: this.#name(to) });
        this.#confChangeAt.set(group, now);
        host.transferLeader(group, to);
        this.#raft!.pump();
      }
    }
  }

  /**
   * Hands the leadership of every group this node leads to a caught-up voter, and resolves once
   * all have moved or `timeoutMs` passed: a stopping node (SIGTERM) loses no write to an election.
   * `alive` says which raft ids may take it.
   */
  async handOff(alive: (raftId: number) => boolean, timeoutMs: number): Promise<{ moved: number; tried: number }> {
    if (!this.#raft) return { moved: 0, tried: 0 };
    const host = this.#raft.host;
    const tried: string[] = [];
    for (const group of host.groups()) {
      if (spaceOfGroup(group) === undefined || this.#soft.get(group)?.role !== 'leader') continue;
      const st = host.status(group);
      const matched = new Map(st.progress.map((p) => [p.id, p.matched]));
      const to = st.confState.voters.find((v) => v !== this.#o.raftId && alive(v) && (matched.get(v) ?? 0) >= st.commit);
      if (to === undefined) continue;
      try {
        host.transferLeader(group, to);
        tried.push(group);
      } catch {
        // the group went away: nothing to hand on
      }
    }
    this.#raft.pump();
    const until = performance.now() + timeoutMs;
    const moved = () => tried.filter((g) => this.#soft.get(g)?.role !== 'leader' && (this.#soft.get(g)?.leaderId ?? 0) !== 0).length;
    while (moved() < tried.length && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
    return { moved: moved(), tried: tried.length };
  }

  /** Fails every pending proposal and wait; nothing is proposed after. */
  close(): void {
    this.#closed = true;
    for (const p of [...this.#pending.values()]) p.reject(new WriteOutcomeUnknownError(p.space, 'the node is stopping'));
    for (const set of this.#waiters.values()) for (const w of [...set]) w.resolve(false);
    for (const r of [...this.#reads.values()]) r(-1);
  }

  // --- RaftStateMachine -------------------------------------------------------------------

  /**
   * A snapshot's data names the space and index only (`describeSnapshot`); the records travel
   * in bounded chunks through `fetchLog`, off the Ready path. A copy that already holds them (a
   * restart) has nothing to do.
   */
  applySnapshot(group: string, snapshot: { index: number; term: number; data: Uint8Array }): void {
    this.#snapshotIndex.set(group, Math.max(this.#snapshotIndex.get(group) ?? 0, snapshot.index));
    if (snapshot.data.byteLength === 0) return this.#setApplied(group, snapshot.index);
    const space = spaceOfGroup(group);
    const described = readSnapshot(snapshot.data);
    if (space === undefined || described.space !== space) throw new InvalidArgumentError('snapshot', group, 'is not a snapshot of this space group');
    if (this.#o.engine.raftIndex(space) >= snapshot.index) return this.#setApplied(group, snapshot.index);
    const current = this.#catchingUp.get(group);
    if (current && current.index >= snapshot.index) return;
    this.#catchingUp.set(group, { index: snapshot.index, buffer: current?.buffer.filter((e) => e.index > snapshot.index) ?? [] });
    this.#o.logger.info('space copy catching up from a snapshot', { space, index: snapshot.index, has: this.#o.engine.raftIndex(space) });
    if (this.#raft && !current) void this.#catchUp(group);
  }

  async apply(group: string, entry: RaftCommittedEntry): Promise<void> {
    const pending = this.#catchingUp.get(group);
    if (pending) {
      pending.buffer.push(entry);
      return;
    }
    await this.#applyNow(group, entry);
  }

  /** Compacts each group whose log grew COMPACT_EVERY entries past its snapshot (after a pump). */
  maybeCompact(): void {
    if (this.#compacting || this.#closed || !this.#raft) return;
    const every = this.#o.compactEvery ?? DEFAULT_SPACE_COMPACT_EVERY;
    for (const group of this.#toCompact) {
      this.#toCompact.delete(group);
      const applied = this.#applied.get(group) ?? 0;
      if (this.#catchingUp.has(group) || applied - (this.#snapshotIndex.get(group) ?? 0) < every) continue;
      const space = spaceOfGroup(group)!;
      this.#compacting = true;
      // Everything up to `applied` is in the engine's log (fsynced before it counted as applied):
      // the snapshot only names the point; a copy that needs it reads the records from a copy.
      this.#raft.host
        .compact(group, applied, describeSnapshot(space, applied))
        .then(() => this.#snapshotIndex.set(group, applied))
        .catch((err: unknown) => this.#o.logger.warn('space group compaction failed', { space, error: String(err) }))
        .finally(() => {
          this.#compacting = false;
        });
      return;
    }
  }

  /** Reads records from other copies until this copy holds the snapshot's index, then applies what waited. */
  async #catchUp(group: string): Promise<void> {
    const space = spaceOfGroup(group)!;
    const t0 = performance.now();
    let chunks = 0;
    while (!this.#closed) {
      const pending = this.#catchingUp.get(group);
      if (!pending) return;
      try {
        if (this.#o.engine.raftIndex(space) < pending.index) {
          const from = this.#o.engine.lastPosition(space) + 1;
          const chunk = await this.#o.fetchLog(space, from);
          if (chunk.records.length === 0) throw new Error(`no copy has records past position ${from - 1} yet`);
          await this.#o.engine.appendLog(space, from, chunk.records);
          chunks++;
          continue;
        }
        // Applied, then taken off: an apply that fails is tried again, never skipped.
        while (pending.buffer.length > 0) {
          await this.#applyNow(group, pending.buffer[0]!);
          pending.buffer.shift();
        }
        // A newer snapshot arrived meanwhile: catch up to it too.
        if (this.#catchingUp.get(group) !== pending) continue;
        this.#catchingUp.delete(group);
        this.#setApplied(group, pending.index);
        this.#o.logger.info('space copy caught up from a snapshot', { space, index: pending.index, chunks, ms: Math.round(performance.now() - t0) });
        return;
      } catch (err) {
        this.#o.logger.warn('space copy catch-up paused', { space, error: (err as Error).message });
        await new Promise((r) => setTimeout(r, CATCH_UP_RETRY_MS));
      }
    }
  }

  async #applyNow(group: string, entry: RaftCommittedEntry): Promise<void> {
    // The change the leader waited for is in: the next may go at once.
    if (entry.confChange) {
      this.#confChangeAt.delete(group);
      this.#confVersion++;
    }
    const key = entry.context.byteLength > 0 ? Buffer.from(entry.context.buffer, entry.context.byteOffset, entry.context.byteLength).toString('hex') : '';
    try {
      await this.#machine.apply(group, entry);
    } catch (err) {
      // A record every copy refuses alike (the same bytes on the same state): it is skipped
      // everywhere, and only its proposer hears why. Anything else (a disk failure) stops here.
      if (!(err instanceof InvalidArgumentError)) throw err;
      this.#o.logger.warn('space entry refused', { group, index: entry.index, error: err.message });
      this.#setApplied(group, entry.index);
      this.#pending.get(key)?.reject(err);
      return;
    }
    this.#setApplied(group, entry.index);
    if (key) this.#pending.get(key)?.resolve(entry.index);
  }

  softState(group: string, state: RaftSoftState): void {
    const before = this.#soft.get(group);
    this.#soft.set(group, state);
    if (before?.leaderId !== state.leaderId || before?.role !== state.role) {
      const space = spaceOfGroup(group);
      this.#o.logger.info('space leader', { space, leader: state.leaderId ? this.#name(state.leaderId) : '', role: state.role, term: state.term });
      if (state.role === 'leader' && space !== undefined) this.#o.onLeader?.(space);
    }
    // Elected while still reading a snapshot's records: it cannot take writes until it holds
    // them, so leadership goes to a voter that does.
    if (state.role === 'leader' && this.#catchingUp.has(group) && this.#raft) {
      try {
        const st = this.#raft.host.status(group);
        const matched = new Map(st.progress.map((p) => [p.id, p.matched]));
        const to = st.confState.voters.find((v) => v !== this.#o.raftId && (matched.get(v) ?? 0) >= st.commit);
        if (to !== undefined) this.#raft.host.transferLeader(group, to);
      } catch {
        // the group went away: nothing to hand on
      }
    }
  }

  readState(_group: string, state: RaftReadState): void {
    const key = Buffer.from(state.context.buffer, state.context.byteOffset, state.context.byteLength).toString('hex');
    this.#reads.get(key)?.(state.index);
  }

  #setApplied(group: string, index: number): void {
    if (index <= (this.#applied.get(group) ?? 0)) return;
    this.#applied.set(group, index);
    if (index - (this.#snapshotIndex.get(group) ?? 0) >= (this.#o.compactEvery ?? DEFAULT_SPACE_COMPACT_EVERY)) this.#toCompact.add(group);
    const set = this.#waiters.get(group);
    if (set) for (const w of [...set]) if (w.index <= index) w.resolve(true);
  }

  #name(raftId: number): string {
    return this.#o.nodeOf(raftId) ?? `#${raftId}`;
  }
}


/** A space group's snapshot data: which space and up to which index (the records stay in the engine's log). */
export function describeSnapshot(space: string, index: number): Uint8Array {
  return Buffer.from(JSON.stringify({ space, index }), 'utf8');
}

function readSnapshot(data: Uint8Array): { space: string; index: number } {
  try {
    const v = JSON.parse(Buffer.from(data).toString('utf8')) as { space?: unknown; index?: unknown };
    if (typeof v.space === 'string' && typeof v.index === 'number') return { space: v.space, index: v.index };
  } catch {
    // fall through to the refusal
  }
  throw new InvalidArgumentError('snapshot', '(bytes)', 'is not a space group snapshot');
}

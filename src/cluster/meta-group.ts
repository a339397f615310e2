/**
 * The metadata group of one node (DESIGN §5, issue 11): the `meta` Raft group on the node's
 * RaftHost (raft-rs in the addon, our CRC-framed store on disk) and RaftTransport (one internal
 * gRPC stream per peer), applying committed commands to a `MetaState`. Every member holds the
 * group (voter or learner), so every node plans from its own applied copy of the committed table.
 *
 * What this class adds to the engine is the part that is ours: the tick and pump loop, proposals
 * that resolve when their entry is applied here (by request id), conf changes applied to the
 * table as `metaConfig` at their log position, compaction, and who may be reached.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type * as grpc from '@grpc/grpc-js';
import { EngineClosedError, MetadataUnavailableError } from '../errors.js';
import type { Logger } from '../util/logger.js';
import type { RaftStateMachine } from '../raft/raft-host.js';
import { RaftError, RAFT_CODES } from '../raft/raft-errors.js';
import type { RaftCommittedEntry, RaftConfChange, RaftSoftState, RaftStatus } from '../raft/raft-native-types.js';
import type { RaftTransport } from './raft-transport.js';
import { RaftNode } from './raft-node.js';
import { MetaState } from './meta/meta-state.js';
import { decodeCommand, encodeCommand } from './meta/meta-command-codec.js';
import { META_GROUP } from './meta/meta-voters.js';
import type { MetaCommand, MetaMember, MetaResult } from './meta/meta-types.js';

export { DEFAULT_RAFT_TICK_MS } from './raft-node.js';
/** How long a proposal may wait for its entry to be applied here, ms. */
export const DEFAULT_PROPOSE_TIMEOUT_MS = 5_000;
/** A proposal not applied after this long is proposed again (a forwarded one may have been dropped), ms. */
const REPROPOSE_MS = 1_000;
/** A proposal refused for want of a leader is retried after this long, ms. */
const NO_LEADER_RETRY_MS = 50;
/** Applied entries past the last snapshot before the log is compacted into a new one. */
const COMPACT_EVERY = 1_000;

/** An applied command's outcome, with the log position it took. */
export interface Applied {
  result: MetaResult;
  index: number;
}

export interface MetaGroupOptions {
  dataDir: string;
  nodeId: string;
  raftId: number;
  /** This node as a member (what it proposes when it bootstraps the cluster). */
  self: MetaMember;
  clusterId: string;
  clusterKey: string;
  credentials?: grpc.ChannelCredentials;
  requireClientCertificate?: boolean;
  logger: Logger;
  /** The freshest gRPC address of a node (SWIM's), if known; the table's is used otherwise. */
  addressOf(nodeId: string): string | undefined;
  /** Called for every applied command, in log order, before its proposer hears of it. */
  onApplied(applied: Applied): Promise<void>;
  /** Called after a snapshot replaced the whole table. */
  onSnapshot(): Promise<void>;
  /** Voters this node reaches now (itself included when it votes), for the error a stuck proposal gets. */
  quorum(): { reachable: number; total: number };
  tickMs?: number;
  /** Election timeout in ticks (randomized in [n, 2n)); default 10. */
  electionTicks?: number;
  /** The state machine of every other group on the node's Raft (the space groups). */
  machineFor?(group: string): RaftStateMachine | undefined;
  /** Called after each pump of the node's Raft (space groups compact there). */
  afterPump?(): void;
  /** Called once the node's Raft is open, before any entry is replayed (space groups attach to it). */
  onRaft?(raft: RaftNode, group: MetaGroup): void;
}

interface Pending {
  command: MetaCommand;
  resolve(applied: Applied): void;
  reject(err: Error): void;
}

export class MetaGroup implements RaftStateMachine {
  state = MetaState.empty();
  /** Last index applied to `state` (and acted on by the engine). */
  applied = 0;
  /** Bumped at every change of `state`, before the engine acts on it: views derived from the state cache on this. */
  version = 0;
  /** Index of the entry that last changed each space (what Status calls a space's version). */
  readonly spaceVersions = new Map<string, number>();
  readonly #options: MetaGroupOptions;
  readonly #pending = new Map<string, Pending>();
  readonly #appliedWaiters = new Set<{ index: number; resolve: (ok: boolean) => void }>();
  /** Raft id → gRPC address learned before this node's table holds them (the join answer). */
  readonly #hints = new Map<number, string>();
  #raft!: RaftNode;
  #soft: RaftSoftState = { leaderId: 0, role: 'follower', term: 0 };
  #snapshotIndex = 0;
  #compacting = false;
  #closed = false;
  /** Test-only cut (SetFault cutOff): Raft messages neither leave nor are taken in. */
  get cutOff(): boolean {
    return this.#raft.cutOff;
  }

  set cutOff(cut: boolean) {
    this.#raft.cutOff = cut;
  }

  private constructor(options: MetaGroupOptions) {
    this.#options = options;
  }

  /**
   * Opens the group from the data directory, or creates it: as its only voter with `bootstrap`
   * (then proposes the bootstrap command), as an empty member waiting for a leader to add it
   * otherwise. `hints` are peers' addresses until the table is caught up.
   */
  static async open(options: MetaGroupOptions, init: { bootstrap?: boolean; hints?: { raftId: number; grpcAddress: string }[] } = {}): Promise<MetaGroup> {
    const g = new MetaGroup(options);
    for (const h of init.hints ?? []) g.#hints.set(h.raftId, h.grpcAddress);
    g.#raft = await RaftNode.open({
      dataDir: options.dataDir,
      nodeId: options.nodeId,
      clusterId: options.clusterId,
      clusterKey: options.clusterKey,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      requireClientCertificate: options.requireClientCertificate ?? false,
      logger: options.logger,
      resolve: (raftId) => g.#resolve(raftId),
      machineFor: (group) => (group === META_GROUP ? g : options.machineFor?.(group)),
      afterPump: () => {
        g.#maybeCompact();
        options.afterPump?.();
      },
      ...(options.tickMs !== undefined ? { tickMs: options.tickMs } : {}),
      ...(options.electionTicks !== undefined ? { electionTicks: options.electionTicks } : {}),
    });
    const host = g.#raft.host;
    options.onRaft?.(g.#raft, g);
    try {
      if (!host.groups().includes(META_GROUP)) {
        if (init.bootstrap) {
          await host.createGroup(META_GROUP, options.raftId, [options.raftId]);
          host.campaign(META_GROUP);
        } else {
          await host.createGroup(META_GROUP, options.raftId);
        }
      }
      g.#snapshotIndex = host.status(META_GROUP).snapshotIndex;
      await host.processReadies();
    } catch (e) {
      await g.#raft.close();
      throw e;
    }
    if (g.state.clusterId === null && host.status(META_GROUP).confState.voters.join() === String(options.raftId)) {
      // This node made the group: bootstrap the cluster (again after a crash before the command
      // committed; the same cluster id twice is `exists`).
      // Awaited: the node reports `started` (and answers joins) only once its cluster exists.
      try {
        await g.propose({ kind: 'bootstrap', requestId: randomUUID(), clusterId: options.clusterId, member: options.self }, 30_000);
      } catch (e) {
        await g.close();
        throw e;
      }
    }
    return g;
  }

  /** The `Raft` stream handler, for the node's EngramInternal service. */
  get transport(): RaftTransport {
    return this.#raft.transport;
  }

  /** The node's Raft (host and transport), which space groups will share. */
  get raft(): RaftNode {
    return this.#raft;
  }

  get clusterId(): string {
    return this.#options.clusterId;
  }

  /** Leader, role and term as of the last Ready. */
  get soft(): RaftSoftState {
    return this.#soft;
  }

  isLeader(): boolean {
    return this.#soft.role === 'leader';
  }

  status(): RaftStatus {
    return this.#raft.host.status(META_GROUP);
  }

  /**
   * Proposes `command` and resolves with what it did once its entry is applied here. A proposal
   * that finds no leader, or whose forwarded message was dropped, is proposed again (commands
   * are safe to apply twice); MetadataUnavailableError once `timeoutMs` has passed.
   */
  propose(command: MetaCommand, timeoutMs = DEFAULT_PROPOSE_TIMEOUT_MS): Promise<Applied> {
    const data = encodeCommand(command);
    return new Promise<Applied>((resolve, reject) => {
      let retry: NodeJS.Timeout | undefined;
      const deadline = setTimeout(() => {
        finish();
        const q = this.#options.quorum();
        reject(new MetadataUnavailableError(q.reachable, q.total, describe(command)));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(deadline);
        clearTimeout(retry);
        this.#pending.delete(command.requestId);
      };
      this.#pending.set(command.requestId, {
        command,
        resolve: (a) => {
          finish();
          resolve(a);
        },
        reject: (err) => {
          finish();
          reject(err);
        },
      });
      const attempt = () => {
        if (this.#closed) return;
        let wait = REPROPOSE_MS;
        try {
          if (this.cutOff) throw new RaftError(RAFT_CODES.PROPOSAL_DROPPED, META_GROUP, 'cut off');
          this.#raft.host.propose(META_GROUP, data);
          this.pump();
        } catch (e) {
          if (!(e instanceof RaftError && e.code === RAFT_CODES.PROPOSAL_DROPPED)) {
            finish();
            reject(e);
            return;
          }
          wait = NO_LEADER_RETRY_MS;
        }
        retry = setTimeout(attempt, wait);
      };
      attempt();
    });
  }

  /** Proposes a membership change of the group (the leader's voter management). */
  proposeConfChange(changes: RaftConfChange[]): void {
    this.#raft.host.proposeConfChange(META_GROUP, changes);
    this.pump();
  }

  /**
   * When this node leads: hands leadership to `to` (a caught-up voter) and resolves once another
   * leader is known here, or false after `timeoutMs`. A stopping leader calls it so the others
   * need not wait out an election timeout.
   */
  async transferLeadership(to: number, timeoutMs: number): Promise<boolean> {
    if (!this.isLeader() || this.#closed) return false;
    this.#raft.host.transferLeader(META_GROUP, to);
    this.pump();
    const until = performance.now() + timeoutMs;
    while (performance.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
      const leader = this.#soft.leaderId;
      if (!this.isLeader() && leader !== 0 && leader !== this.#options.raftId) return true;
    }
    return false;
  }

  /** Resolves once `index` is applied here; false when `timeoutMs` passed first. */
  waitApplied(index: number, timeoutMs: number): Promise<boolean> {
    if (this.applied >= index) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        index,
        resolve: (ok: boolean) => {
          clearTimeout(timer);
          this.#appliedWaiters.delete(w);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => {
        this.#appliedWaiters.delete(w);
        resolve(false);
      }, timeoutMs);
      this.#appliedWaiters.add(w);
    });
  }

  /** Handles pending Readies and sends what they produced. */
  pump(): void {
    if (!this.#closed) this.#raft.pump();
  }

  // --- RaftStateMachine -------------------------------------------------------------------

  async applySnapshot(_group: string, snapshot: { index: number; term: number; data: Uint8Array }): Promise<void> {
    if (snapshot.data.length === 0) return;
    this.state = MetaState.restore(snapshot.data);
    this.version++;
    this.#snapshotIndex = Math.max(this.#snapshotIndex, snapshot.index);
    this.spaceVersions.clear();
    for (const s of this.state.spaces()) this.spaceVersions.set(s.id, snapshot.index);
    await this.#options.onSnapshot();
    this.applied = snapshot.index;
    // A proposal of ours the snapshot covers never comes back as an entry: a create whose space
    // is now there as proposed is answered as made (a later duplicate would say "exists").
    for (const p of [...this.#pending.values()]) {
      const c = p.command;
      if (c.kind !== 'createSpace') continue;
      const space = this.state.space(c.space);
      if (space && space.dimension === c.dimension && space.copies.join() === c.copies.join()) {
        p.resolve({ result: { status: 'ok', requestId: c.requestId, kind: 'createSpace', changed: true, space }, index: snapshot.index });
      }
    }
    this.#wakeAppliedWaiters();
  }

  async apply(_group: string, entry: RaftCommittedEntry): Promise<void> {
    let result: MetaResult | undefined;
    if (entry.confChange) {
      // The configuration every node records at this position (a refused change records none).
      if (entry.confState) {
        result = this.state.apply({ kind: 'metaConfig', requestId: `conf-${entry.index}`, voters: sorted(entry.confState.voters), learners: sorted(entry.confState.learners) });
      }
    } else if (entry.data.length > 0) {
      let command: MetaCommand;
      try {
        command = decodeCommand(entry.data);
      } catch (e) {
        // Committed bytes this version cannot read: skipping would fork the table, so stop here.
        this.#options.logger.error('metadata entry cannot be decoded', { index: entry.index, error: String(e) });
        throw e;
      }
      result = this.state.apply(command);
    }
    if (result) this.version++;
    if (result) {
      if ('space' in result && result.space && result.status === 'ok' && result.changed) this.spaceVersions.set(result.space.id, entry.index);
      const applied = { result, index: entry.index };
      // The engine acts on it (creates a space) before the entry counts as applied here, so a
      // waiter on `applied` (AwaitApplied) finds the space there.
      await this.#options.onApplied(applied);
      this.applied = entry.index;
      this.#pending.get(result.requestId)?.resolve(applied);
    } else {
      this.applied = entry.index;
    }
    this.#wakeAppliedWaiters();
  }

  softState(_group: string, state: RaftSoftState): void {
    const before = this.#soft;
    this.#soft = state;
    if (before.leaderId !== state.leaderId || before.role !== state.role) {
      const leader = this.state.memberByRaftId(state.leaderId)?.nodeId ?? (state.leaderId ? `#${state.leaderId}` : '');
      this.#options.logger.info('metadata leader', { leader, role: state.role, term: state.term });
    }
  }

  /** Stops ticking, fails pending proposals and waits, closes the transport and the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of [...this.#pending.values()]) p.reject(new EngineClosedError());
    for (const w of [...this.#appliedWaiters]) w.resolve(false);
    await this.#raft.close();
  }

  // --- internals --------------------------------------------------------------------------

  #resolve(raftId: number): string | undefined {
    const member = this.state.memberByRaftId(raftId);
    if (member) return this.#options.addressOf(member.nodeId) ?? member.grpcAddress;
    return this.#hints.get(raftId);
  }

  #wakeAppliedWaiters(): void {
    for (const w of [...this.#appliedWaiters]) if (this.applied >= w.index) w.resolve(true);
  }

  #maybeCompact(): void {
    if (this.#compacting || this.#closed || this.applied - this.#snapshotIndex < COMPACT_EVERY) return;
    this.#compacting = true;
    const index = this.applied;
    this.#raft.host
      .compact(META_GROUP, index, this.state.snapshot())
      .then(() => {
        this.#snapshotIndex = index;
      })
      .catch((err: unknown) => this.#options.logger.warn('metadata compaction failed', { error: String(err) }))
      .finally(() => {
        this.#compacting = false;
      });
  }
}

function sorted(ids: readonly number[]): number[] {
  return [...ids].sort((a, b) => a - b);
}

function describe(command: MetaCommand): string {
  switch (command.kind) {
    case 'createSpace':
      return `create memory space "${command.space}"`;
    case 'joinMember':
      return `add member ${command.member.nodeId}`;
    default:
      return command.kind;
  }
}

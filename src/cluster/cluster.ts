/**
 * One node's membership in a cluster (DESIGN §5): SWIM membership (foca in the addon) says who is
 * alive; the metadata group (Raft, src/cluster/meta-group.ts) says who the members are and where
 * every space lives, as one committed table that every node applies from the same log. It is the
 * `ClusterView` the query layer reads, plus the operations that change the table.
 *
 * A cluster starts with one node that bootstraps it (a new cluster id); every other node joins
 * through `--seeds`: it finds a member over gossip, asks it (`JoinCluster`) to commit it as a
 * member, and the metadata leader then adds it to the group, first as a learner. The leader keeps
 * up to `metaVoters` voters among live members and replaces one that stays down longer than
 * `reassignAfterMs`. A node that cannot reach a majority of the voters refuses to create spaces
 * (`MetadataUnavailableError`) and goes on answering queries from the table it has.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type * as grpc from '@grpc/grpc-js';
import type { Engine } from '../engine/engine.js';
import { ClusterMismatchError, ConsistencyUnavailableError, InvalidArgumentError, MetadataUnavailableError, SpaceConflictError, SpaceNotFoundError, TooManySpacesError } from '../errors.js';
import { DEFAULT_MAX_SPACES } from '../engine/limits.js';
import type { Logger } from '../util/logger.js';
import type { MetaStatus } from '../client/engram-client.js';
import { fromGrpcError, isServiceError } from '../wire/grpc-errors.js';
import type { ClusterView, Member, MemberState, SpaceAssignment } from './cluster-view.js';
import { raftIdOf, readClusterId, recordClusterId } from './identity.js';
import { MetaGroup, type Applied } from './meta-group.js';
import { chooseVoters, DEFAULT_META_VOTERS, DEFAULT_REASSIGN_AFTER_MS, voterToReplace, type VoterCandidate } from './meta/meta-voters.js';
import type { MetaMember, MetaSpace } from './meta/meta-types.js';
import { PartitionDetector, type PartitionState } from './partition-detector.js';
import type { InternalCalls } from './peer-clients.js';
import { DEFAULT_REPLICATION_FACTOR, resolvePlacement, type PlacementRequest } from './rendezvous.js';
import { SwimMembership } from './swim-membership.js';
import { SpaceGroups, spaceOfGroup } from './space-group.js';
import { nextMove } from './allocation.js';
import type { MetaState } from './meta/meta-state.js';
import type { CopyState } from '../query/types.js';
import type { SwimTimingOptions } from './swim-options.js';

/** How long a new node keeps trying to join through its seeds, ms. */
export const DEFAULT_JOIN_TIMEOUT_MS = 60_000;
/** How long a restarted node waits for a seed to confirm it is of the same cluster, ms. */
const CHECK_IN_TIMEOUT_MS = 5_000;
/** Deadline of one JoinCluster call, ms (the member commits the join before answering). */
const JOIN_CALL_MS = 10_000;
/** Period of the leader's voter management and of each node's check of its own entry, ms. */
const MAINTAIN_MS = 500;
/** A conf change not applied after this long no longer holds the next one back, ms. */
const CONF_CHANGE_PATIENCE_MS = 5_000;
/** How long a stopping metadata leader waits for its handoff to take, ms. */
const LEADERSHIP_HANDOFF_MS = 2_000;
/** A learner is promoted to voter only once it is this close to the leader's commit index. */
const CAUGHT_UP_ENTRIES = 10;
/** How long a stopping node waits for its space leaderships to move, ms. */
const SPACE_HANDOFF_MS = 3_000;
/** How long a create waits for the other copy holders to create the space, ms. */
const AWAIT_COPIES_MS = 5_000;

export interface ClusterOptions {
  nodeId: string;
  /** This node's gRPC address, told to every member. */
  grpcAddress: string;
  /** HOST:PORT to bind gossip (UDP) to; port 0 picks one. */
  gossipAddress: string;
  /**
   * HOST:PORT members send gossip to, when it differs from `gossipAddress` (a wildcard bind,
   * NAT); port 0 means the bound port. Default: `gossipAddress`, which then must not be a wildcard.
   */
  advertiseGossip?: string;
  /** Gossip addresses of members to join through; none bootstraps a new cluster (or restarts this node's own). */
  seeds: string[];
  /** Shared secret authenticating gossip and internal calls. */
  clusterKey: string;
  /** The node's data directory (the metadata group lives under `raft/`, the cluster id in `cluster-id`). */
  dataDir: string;
  /** The data directory's storage id (src/cluster/identity.ts). */
  storageId: string;
  /** Only join (or belong to) the cluster with this id: `--cluster-id`. Default: whichever the seeds are. */
  clusterId?: string;
  /** Copies of a new space (`--copies`): 3 survives one failure; 2 and 1 survive none. Default 3. */
  replicationFactor?: number;
  /** Voters of the metadata group (`--meta-voters`). Default 3. */
  metaVoters?: number;
  /** Spaces the cluster may hold (`--max-spaces`): CreateSpace of one more is refused. Default DEFAULT_MAX_SPACES. */
  maxSpaces?: number;
  /** A voter down this long is replaced by a live member (`--reassign-after`), ms. Default 60,000. */
  reassignAfterMs?: number;
  /** Applied entries past a space group's snapshot before its log is compacted (`--space-compact-every`). Default 10,000. */
  spaceCompactEvery?: number;
  /** Move copies to a member that joins until copies per member differ by at most one (`--rebalance`). Default true. */
  rebalance?: boolean;
  /** How long a new node tries its seeds before giving up (`--join-timeout-ms`), ms. Default 60,000. */
  joinTimeoutMs?: number;
  /** Raft tick period (`--raft-tick-ms`), ms. Default 100. */
  raftTickMs?: number;
  /** Share of known members below which this node is partitioned. Default 0.6. */
  partitionThreshold?: number;
  /** Time the share must stay healthy before `healing` turns `connected`, ms. Default 2,000. */
  healMs?: number;
  swim?: SwimTimingOptions;
  /** Credentials of Raft streams to peers (TLS); default plaintext. */
  credentials?: grpc.ChannelCredentials;
  /** Refuse Raft streams without a CA-signed client certificate (the node runs TLS). */
  requireClientCertificate?: boolean;
  /**
   * Called once the metadata group exists, before `start` resolves: the node routes incoming Raft
   * streams to its transport from then on (a joiner must take the leader's appends to finish
   * starting).
   */
  onMetaGroup?: (meta: MetaGroup) => void;
  logger: Logger;
}

/** What `JoinCluster` asks and answers (proto/engram/v1/internal.proto). */
export interface JoinRequestMsg {
  nodeId: string;
  storageId: string;
  raftId: number;
  grpcAddress: string;
  gossipAddress: string;
  clusterId: string;
}
export interface JoinResponseMsg {
  clusterId: string;
  /** Metadata log index that holds the joiner's entry: it serves once it has applied this far. */
  index: number;
  members: { nodeId: string; raftId: number; grpcAddress: string }[];
}

export class Cluster extends EventEmitter implements ClusterView {
  readonly nodeId: string;
  readonly membership: SwimMembership;
  readonly detector: PartitionDetector;
  readonly replicationFactor: number;
  /** See ClusterOptions.maxSpaces. */
  readonly maxSpaces: number;
  readonly meta: MetaGroup;
  /** This node's copies of the space groups. */
  readonly spaceGroups: SpaceGroups;
  readonly #self: MetaMember;
  readonly #maxVoters: number;
  readonly #reassignAfterMs: number;
  readonly #rebalance: boolean;
  /** When each member was first seen down (performance.now()), for voter replacement. */
  readonly #downSince = new Map<string, number>();
  /** Cached views, rebuilt when the applied index or SWIM's list changes. */
  #membersCache: { version: number; swim: number; members: Member[] } | undefined;
  #assignCache: { version: number; map: Map<string, SpaceAssignment> } | undefined;
  #maintainTimer: NodeJS.Timeout | undefined;
  #confChangeAt = -Infinity;
  /** When each member last received a copy (allocation's throttle), performance.now(). */
  readonly #lastReceived = new Map<string, number>();
  #moving = false;
  #handedOff = false;
  readonly #hinting = new Set<string>();
  #registering = false;
  #closed = false;

  private constructor(
    options: ClusterOptions,
    membership: SwimMembership,
    meta: MetaGroup,
    spaceGroups: SpaceGroups,
    self: MetaMember,
    private readonly peers: InternalCalls,
    private readonly logger: Logger,
  ) {
    super();
    this.nodeId = options.nodeId;
    this.membership = membership;
    this.meta = meta;
    this.spaceGroups = spaceGroups;
    this.#self = self;
    this.replicationFactor = options.replicationFactor ?? DEFAULT_REPLICATION_FACTOR;
    this.maxSpaces = options.maxSpaces ?? DEFAULT_MAX_SPACES;
    this.#maxVoters = options.metaVoters ?? DEFAULT_META_VOTERS;
    this.#reassignAfterMs = options.reassignAfterMs ?? DEFAULT_REASSIGN_AFTER_MS;
    this.#rebalance = options.rebalance ?? true;
    this.detector = new PartitionDetector({
      selfId: options.nodeId,
      ...(options.partitionThreshold !== undefined ? { threshold: options.partitionThreshold } : {}),
      ...(options.healMs !== undefined ? { healMs: options.healMs } : {}),
    });
    this.detector.onChange((c) => {
      this.logger.info('partition state', { state: c.state, previous: c.previous, reachable: c.reachable, known: c.known });
      this.emit('partition', c);
    });
    membership.on('change', (m: Member) => this.#onMember(m));
  }

  /**
   * Starts gossip, then bootstraps a new cluster (no seeds and no cluster yet), joins one through
   * the seeds, or reopens this node's own; then starts the metadata group. A node whose data
   * directory (or `clusterId`) is of another cluster than its seeds' is refused: ClusterMismatchError.
   */
  static async start(options: ClusterOptions, engine: Engine, peers: InternalCalls): Promise<Cluster> {
    const maxVoters = options.metaVoters ?? DEFAULT_META_VOTERS;
    if (!Number.isInteger(maxVoters) || maxVoters < 1) throw new InvalidArgumentError('metaVoters', maxVoters, 'must be a whole number ≥ 1');
    const membership = await SwimMembership.start({
      id: options.nodeId,
      grpcAddress: options.grpcAddress,
      gossipAddress: options.gossipAddress,
      ...(options.advertiseGossip !== undefined ? { advertiseAddress: options.advertiseGossip } : {}),
      clusterKey: options.clusterKey,
      ...options.swim,
    });
    let cluster: Cluster | undefined;
    let meta: MetaGroup | undefined;
    try {
      const raftId = raftIdOf(options.nodeId, options.storageId);
      const self: MetaMember = Object.freeze({
        nodeId: options.nodeId, storageId: options.storageId, raftId, grpcAddress: options.grpcAddress, gossipAddress: membership.gossipAddress,
      });
      const join = new Joiner(options, membership, peers, self);
      let clusterId = await readClusterId(options.dataDir);
      if (clusterId !== undefined && options.clusterId !== undefined && clusterId !== options.clusterId) {
        throw new ClusterMismatchError(`${options.dataDir} belongs to cluster ${clusterId}, not ${options.clusterId} (--cluster-id)`);
      }
      // Without seeds this node makes its own group when none is on disk: a first start, or one
      // that stopped after recording the cluster id and before making the group.
      const bootstrap = options.seeds.length === 0;
      let hints: { raftId: number; grpcAddress: string }[] = [];
      let joinedAt = 0;
      membership.join(options.seeds);
      if (clusterId === undefined) {
        if (options.seeds.length === 0) {
          clusterId = await recordClusterId(options.dataDir, options.clusterId ?? randomUUID());
          options.logger.info('bootstrapping a new cluster', { clusterId });
        } else {
          const joinMs = options.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS;
          const answer = await join.join(options.clusterId, joinMs);
          if (!answer) throw new MetadataUnavailableError(0, 0, `join through ${options.seeds.join(', ')}: no member answered within ${joinMs} ms`);
          clusterId = await recordClusterId(options.dataDir, answer.clusterId);
          hints = answer.members.map((m) => ({ raftId: m.raftId, grpcAddress: m.grpcAddress }));
          joinedAt = answer.index;
          options.logger.info('joined cluster', { clusterId, through: answer.through });
        }
      } else if (options.seeds.length > 0) {
        // Restarted with seeds: make sure they are of this node's cluster (Cassandra refuses a
        // node whose cluster name differs). None answering is not fatal: this node may be the
        // one they need for a quorum.
        const answer = await join.join(clusterId, CHECK_IN_TIMEOUT_MS);
        if (answer) hints = answer.members.map((m) => ({ raftId: m.raftId, grpcAddress: m.grpcAddress }));
      }
      const c: { cluster?: Cluster; meta?: MetaGroup } = {};
      const spaceGroups: SpaceGroups = new SpaceGroups({
        engine,
        nodeId: options.nodeId,
        raftId,
        logger: options.logger,
        nodeOf: (id) => c.meta?.state.memberByRaftId(id)?.nodeId,
        desiredPeers: (space) => (c.meta ? desiredPeers(c.meta.state, space) : undefined),
        onLeader: (space) => c.cluster?.recordLeader(space),
        fetchLog: (space, fromPosition) => fetchLog(c.meta, spaceGroups, peers, options.nodeId, space, fromPosition),
        ...(options.spaceCompactEvery !== undefined ? { compactEvery: options.spaceCompactEvery } : {}),
      });
      meta = await MetaGroup.open(
        {
          dataDir: options.dataDir,
          nodeId: options.nodeId,
          raftId,
          self,
          clusterId,
          clusterKey: options.clusterKey,
          ...(options.credentials ? { credentials: options.credentials } : {}),
          requireClientCertificate: options.requireClientCertificate ?? false,
          logger: options.logger,
          addressOf: (nodeId) => {
            const m = membership.members().find((x) => x.id === nodeId);
            return m && m.state !== 'down' && m.state !== 'left' ? m.grpcAddress : undefined;
          },
          // Entries replayed while opening apply before the Cluster exists: only their spaces matter then.
          onApplied: (a) => (c.cluster ? c.cluster.#onApplied(a, engine) : createMine(engine, self.nodeId, a, options.logger, spaceGroups, c.meta!.state)),
          machineFor: (group) => (spaceOfGroup(group) !== undefined ? spaceGroups : undefined),
          afterPump: () => spaceGroups.maybeCompact(),
          onRaft: (raft, group) => {
            c.meta = group;
            spaceGroups.attach(raft);
          },
          onSnapshot: () => (c.cluster ? c.cluster.#createAllMine(engine) : Promise.resolve()),
          quorum: () => c.cluster?.quorum() ?? { reachable: 1, total: 1 },
          ...(options.raftTickMs !== undefined ? { tickMs: options.raftTickMs } : {}),
        },
        { bootstrap, hints },
      );
      options.onMetaGroup?.(meta);
      // A new member serves once it holds the table up to its own entry (until then a query would
      // find no space): the leader adds it as a learner and sends it the log.
      if (joinedAt > 0 && !(await meta.waitApplied(joinedAt, options.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS))) {
        throw new MetadataUnavailableError(0, 0, `join: the metadata log did not reach this node within ${options.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS} ms`);
      }
      cluster = new Cluster(options, membership, meta, spaceGroups, self, peers, options.logger);
      c.cluster = cluster;
      await cluster.#createAllMine(engine);
      cluster.#maintainTimer = setInterval(() => cluster!.#maintain(), MAINTAIN_MS);
      cluster.#maintainTimer.unref();
      cluster.detector.update(cluster.members());
      return cluster;
    } catch (e) {
      if (cluster) cluster.#stopTimers();
      await meta?.close().catch(() => undefined);
      await membership.close().catch(() => undefined);
      throw e;
    }
  }

  get gossipAddress(): string {
    return this.membership.gossipAddress;
  }

  get clusterId(): string {
    return this.meta.clusterId;
  }

  self(): Member {
    return this.membership.self();
  }

  /**
   * Members of the committed table (self first if the table does not hold it yet), each in the
   * state SWIM reports; a member gossip does not know is `down`. A node that only gossips with
   * the cluster's key but never joined is no member.
   */
  members(): Member[] {
    const version = this.meta.version;
    const swimVersion = this.membership.listVersion;
    const cache = this.#membersCache;
    if (cache && cache.version === version && cache.swim === swimVersion) return cache.members;
    const swim = this.membership.members();
    const byId = new Map(swim.map((m) => [m.id, m]));
    const self = this.membership.self();
    const out: Member[] = [];
    const table = this.meta.state.members();
    if (!table.some((m) => m.nodeId === this.nodeId)) out.push(self);
    for (const m of table) {
      if (m.nodeId === this.nodeId) {
        out.push(self);
        continue;
      }
      out.push(byId.get(m.nodeId) ?? Object.freeze({ id: m.nodeId, grpcAddress: m.grpcAddress, gossipAddress: m.gossipAddress, state: 'down' as const, incarnation: 0 }));
    }
    this.#membersCache = { version, swim: swimVersion, members: out };
    return out;
  }

  member(id: string): Member | undefined {
    return this.members().find((m) => m.id === id);
  }

  assignment(space: string): SpaceAssignment | undefined {
    return this.#assignments().get(space);
  }

  /** Every space's assignment, sorted by space id. */
  assignments(): SpaceAssignment[] {
    return [...this.#assignments().values()];
  }

  isPartitioned(): boolean {
    return this.detector.isPartitioned();
  }

  spaces(): string[] {
    return [...this.#assignments().keys()];
  }

  partitionState(): PartitionState {
    return this.detector.state;
  }

  /** The metadata log index applied here: the version of this node's table. */
  tableVersion(): number {
    return this.meta.applied;
  }

  /** Voters of the metadata group and how many of them this node reaches (itself counted when it votes). */
  quorum(): { reachable: number; total: number } {
    const voters = this.meta.status().confState.voters;
    const states = new Map(this.membership.members().map((m) => [m.id, m.state]));
    let reachable = 0;
    for (const v of voters) {
      if (v === this.#self.raftId) {
        reachable++;
        continue;
      }
      const m = this.meta.state.memberByRaftId(v);
      const s = m ? states.get(m.nodeId) : undefined;
      if (s === 'alive' || s === 'suspect') reachable++;
    }
    return { reachable, total: voters.length };
  }

  /** The metadata group as this node sees it. */
  metaStatus(): MetaStatus {
    const st = this.meta.status();
    const name = (id: number) => this.meta.state.memberByRaftId(id)?.nodeId ?? `#${id}`;
    const soft = this.meta.soft;
    const role = st.confState.learners.includes(this.#self.raftId) ? 'learner' : st.role;
    return {
      clusterId: this.meta.clusterId,
      leader: st.leaderId ? name(st.leaderId) : '',
      term: Math.max(st.term, soft.term),
      voters: st.confState.voters.map(name).sort(),
      learners: st.confState.learners.map(name).sort(),
      applied: this.meta.applied,
      commit: st.commit,
      digest: this.meta.state.digest(),
      role,
    };
  }

  /**
   * Creates a space through the metadata group: a committed compare-and-set. Places it by
   * rendezvous over live members unless `request` names the nodes, and returns once every
   * reachable copy holder has created it. The same space and dimension again is not an error
   * (`created: false`); another dimension is SpaceConflictError naming the existing one. Without
   * a majority of the metadata voters: MetadataUnavailableError, and nothing changes.
   */
  async createSpace(space: string, dimension: number, request: PlacementRequest = {}): Promise<{ assignment: SpaceAssignment; created: boolean }> {
    const what = `create memory space "${space}"`;
    for (let attempt = 0; ; attempt++) {
      const existing = this.meta.state.space(space);
      if (existing) return { assignment: this.#checkSame(existing, dimension), created: false };
      // Against the committed table before proposing: creations racing each other may pass the
      // cap by as many as run at once, which bounds the growth all the same.
      if (this.meta.state.spaces().length >= this.maxSpaces) throw new TooManySpacesError(space, this.maxSpaces);
      const q = this.quorum();
      if (q.reachable < majority(q.total)) throw new MetadataUnavailableError(q.reachable, q.total, what);
      const placement = resolvePlacement(space, this.members(), { replicationFactor: this.replicationFactor, ...request });
      const copies = [placement.primary, ...placement.replicas];
      const { result, index } = await this.meta.propose({ kind: 'createSpace', requestId: randomUUID(), space, dimension, copies });
      if (result.status === 'ok') {
        await this.#awaitCopies(copies, index);
        return { assignment: this.assignment(space)!, created: true };
      }
      if (result.status === 'exists') return { assignment: this.assignment(space)!, created: false };
      if (result.status === 'conflict') return { assignment: this.#checkSame(result.space, dimension), created: false };
      // A member left between placing and committing: place again over the members now.
      if (result.reason !== 'unknownMembers' || attempt >= 3) {
        // Members kept leaving under the placement, or the table is not bootstrapped yet: both pass.
        const q2 = this.quorum();
        throw new MetadataUnavailableError(q2.reachable, q2.total, `${what}: ${result.message}`);
      }
      this.logger.warn('placement went stale, placing again', { space, reason: result.message });
    }
  }

  /** Where a space lives, or SpaceNotFoundError. */
  requireAssignment(space: string): SpaceAssignment {
    const a = this.assignment(space);
    if (!a) throw new SpaceNotFoundError(space);
    return a;
  }

  /**
   * `JoinCluster` from another node: commits it as a member (or its new addresses) and answers
   * with the cluster id and the members. A node of another cluster is refused and counted.
   */
  async admit(req: JoinRequestMsg, tagClusterId = ''): Promise<JoinResponseMsg> {
    const claimed = req.clusterId || tagClusterId;
    if (claimed && claimed !== this.clusterId) {
      this.logger.warn('join refused: another cluster', { node: req.nodeId, theirs: claimed });
      throw new ClusterMismatchError(`node ${req.nodeId} belongs to cluster ${claimed}; this is another cluster`);
    }
    if (this.meta.state.clusterId === null) {
      // Not caught up on the table yet (or the bootstrap is not committed): the joiner tries another member.
      const q = this.quorum();
      throw new MetadataUnavailableError(q.reachable, q.total, `add member ${req.nodeId}: this node has not applied the cluster's table yet`);
    }
    if (raftIdOf(req.nodeId, req.storageId) !== req.raftId) throw new InvalidArgumentError('raftId', req.raftId, 'is not the raft id of this node id and storage id');
    const member: MetaMember = { nodeId: req.nodeId, storageId: req.storageId, raftId: req.raftId, grpcAddress: req.grpcAddress, gossipAddress: req.gossipAddress };
    const current = this.meta.state.member(req.nodeId);
    let index = this.meta.applied;
    // A restart on the same addresses changes nothing: answer without needing a quorum (the
    // restarting node may be one the quorum needs).
    if (!current || current.storageId !== member.storageId || current.raftId !== member.raftId || current.grpcAddress !== member.grpcAddress || current.gossipAddress !== member.gossipAddress) {
      const applied = await this.meta.propose({ kind: 'joinMember', requestId: randomUUID(), member });
      if (applied.result.status === 'rejected') throw new InvalidArgumentError('nodeId', req.nodeId, applied.result.message);
      if (applied.result.status === 'ok' && applied.result.changed) this.logger.info('member committed', { member: req.nodeId, raftId: req.raftId });
      index = applied.index;
    }
    return {
      clusterId: this.clusterId,
      index,
      members: this.meta.state.members().map((m) => ({ nodeId: m.nodeId, raftId: m.raftId, grpcAddress: this.membership.members().find((x) => x.id === m.nodeId)?.grpcAddress ?? m.grpcAddress })),
    };
  }

  /** Test-only cut (the SetFault switch): gossip and Raft messages neither leave nor are taken in. */
  setCutOff(cut: boolean): void {
    this.membership.cutOff = cut;
    // One RaftNode carries every group: the metadata group's cut is the space groups' too.
    this.meta.cutOff = cut;
  }

  /**
   * Before this node answers a query from its copy of `space`: a copy that does not vote in its
   * group yet (a learner being caught up, or a group not made yet) may miss committed writes, so
   * it refuses (retryable) and the planner asks the next copy.
   */
  checkReadable(space: string): void {
    if (!this.spaceGroups.isVoter(space)) throw new ConsistencyUnavailableError(space, 'this copy is still being caught up');
  }

  /** Where this node's copy of `space` stands in its group, for the coverage block. */
  copyState(space: string): CopyState | undefined {
    if (!this.spaceGroups.has(space)) return undefined;
    const st = this.spaceGroups.status(space);
    const role = st.confState.learners.includes(st.id) ? 'learner' : st.role;
    return { raftRole: role, behind: role === 'leader' ? 0 : Math.max(0, st.commit - this.spaceGroups.applied(space)) };
  }

  /**
   * Before a `consistency: leader` read of this node's copy of `space`: waits until the copy has
   * applied its group leader's read index; ConsistencyUnavailableError when that is not done by
   * `deadline` (ms since the epoch; default 5 s from now).
   */
  async readBarrier(space: string, deadline?: number): Promise<void> {
    const ms = deadline !== undefined ? deadline - Date.now() : 5_000;
    if (!this.spaceGroups.has(space)) throw new ConsistencyUnavailableError(space, 'this node holds no copy');
    if (!(await this.spaceGroups.readBarrier(space, Math.max(0, ms)))) throw new ConsistencyUnavailableError(space, `no read index confirmed by a leader within ${Math.max(0, Math.round(ms))} ms`);
  }

  /** This node leads `space`'s group: the table's hint follows (best effort; planners read it). */
  recordLeader(space: string): void {
    if (this.#closed || this.#hinting.has(space)) return;
    const s = this.meta.state.space(space);
    if (!s || s.leaderHint === this.nodeId || !s.copies.includes(this.nodeId)) return;
    this.#hinting.add(space);
    this.meta
      .propose({ kind: 'setLeaderHint', requestId: randomUUID(), space, leader: this.nodeId })
      .catch(() => undefined)
      .finally(() => this.#hinting.delete(space));
  }

  /**
   * Leaves the cluster gracefully: a metadata leader first hands leadership to a caught-up voter
   * (the others need not wait out an election timeout), then members see `left`; every timer stops.
   */
  async leave(): Promise<void> {
    if (this.#closed) return;
    await this.handOff();
    this.#stopTimers();
    await this.membership.leave();
    this.spaceGroups.close();
    await this.meta.close();
  }

  /**
   * Hands every leadership this node holds (its space groups', then the metadata group's) to
   * caught-up live voters, so the others need not wait out an election timeout. The node goes on
   * serving as a follower until it leaves. Idempotent.
   */
  async handOff(): Promise<void> {
    if (this.#closed || this.#handedOff) return;
    this.#handedOff = true;
    const alive = new Set(this.membership.members().filter((m) => m.state === 'alive').map((m) => m.id));
    const t0 = performance.now();
    const moved = await this.spaceGroups.handOff((raftId) => alive.has(this.meta.state.memberByRaftId(raftId)?.nodeId ?? ''), SPACE_HANDOFF_MS);
    if (moved.tried > 0) this.logger.info('space leaderships handed off', { ...moved, ms: Math.round(performance.now() - t0) });
    await this.#handOffLeadership();
  }

  /** Stops without telling anyone. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#stopTimers();
    await this.membership.close();
    this.spaceGroups.close();
    await this.meta.close();
  }

  async #handOffLeadership(): Promise<void> {
    if (!this.meta.isLeader()) return;
    const status = this.meta.status();
    const alive = new Set(this.membership.members().filter((m) => m.state === 'alive').map((m) => m.id));
    const matched = new Map(status.progress.map((p) => [p.id, p.matched]));
    const to = status.confState.voters.find((v) => v !== this.#self.raftId && matched.get(v) === status.commit && alive.has(this.meta.state.memberByRaftId(v)?.nodeId ?? ''));
    if (to === undefined) return;
    const t0 = performance.now();
    const moved = await this.meta.transferLeadership(to, LEADERSHIP_HANDOFF_MS);
    const member = this.meta.state.memberByRaftId(to)?.nodeId ?? `#${to}`;
    if (moved) this.logger.info('metadata leadership handed off', { to: member, ms: Math.round(performance.now() - t0) });
    else this.logger.warn('metadata leadership handoff did not complete', { to: member });
  }

  #stopTimers(): void {
    this.#closed = true;
    clearInterval(this.#maintainTimer);
    this.detector.close();
  }

  #checkSame(existing: MetaSpace, dimension: number): SpaceAssignment {
    if (existing.dimension !== dimension) {
      throw new SpaceConflictError(existing.id, `memory space "${existing.id}" exists with dimension ${existing.dimension}, not ${dimension}`);
    }
    return this.assignment(existing.id)!;
  }

  #assignments(): Map<string, SpaceAssignment> {
    const version = this.meta.version;
    if (this.#assignCache?.version === version) return this.#assignCache.map;
    const map = new Map<string, SpaceAssignment>();
    for (const s of this.meta.state.spaces()) {
      map.set(s.id, Object.freeze({
        space: s.id,
        primary: s.leaderHint,
        replicas: s.copies.filter((c) => c !== s.leaderHint),
        dimension: s.dimension,
        version: this.meta.spaceVersions.get(s.id) ?? 0,
      }));
    }
    this.#assignCache = { version, map };
    return map;
  }

  /** Waits (bounded) until every reachable copy holder other than this node has applied `index`. */
  async #awaitCopies(copies: readonly string[], index: number): Promise<void> {
    const members = this.members();
    await Promise.all(copies.filter((id) => id !== this.nodeId).map(async (id) => {
      const m = members.find((x) => x.id === id);
      if (!m || (m.state !== 'alive' && m.state !== 'suspect')) return;
      try {
        await this.peers.internal(m.grpcAddress, 'AwaitApplied', { index }, AWAIT_COPIES_MS);
      } catch (err) {
        this.logger.warn('copy holder did not confirm the create', { member: id, index, error: (err as Error).message });
      }
    }));
  }

  async #onApplied(a: Applied, engine: Engine): Promise<void> {
    await createMine(engine, this.nodeId, a, this.logger, this.spaceGroups, this.meta.state);
    const r = a.result;
    // The change the leader waited for is in: the next may go.
    if (r.kind === 'metaConfig') this.#confChangeAt = -Infinity;
    if (r.status === 'ok' && r.changed) {
      if (r.kind === 'joinMember' || r.kind === 'removeMember' || r.kind === 'bootstrap') this.detector.update(this.members());
      this.emit('table');
    }
  }

  /** Creates every space this node holds a copy of and has not yet (after a snapshot or a restart). */
  async #createAllMine(engine: Engine): Promise<void> {
    for (const s of this.meta.state.spaces()) {
      if (!s.copies.includes(this.nodeId)) continue;
      if (!engine.hasSpace(s.id)) {
        await engine.createSpace(s.id, s.dimension);
        this.logger.info('space created', { space: s.id, dimension: s.dimension, role: s.leaderHint === this.nodeId ? 'primary' : 'replica' });
      }
      // A copy whose create this node did not apply from the log (a snapshot covered it, or the
      // copy moved here) joins the group empty; its leader adds it and sends it the log.
      await this.spaceGroups.ensure(s.id, null, false).catch((err: unknown) => this.logger.error('space group not created', { space: s.id, error: (err as Error).message }));
    }
    this.emit('table');
  }

  #onMember(m: Member): void {
    if (this.#closed) return;
    if (m.state === 'down' || m.state === 'left') {
      if (!this.#downSince.has(m.id)) this.#downSince.set(m.id, performance.now());
    } else if (m.state === 'alive' || m.state === 'suspect') {
      this.#downSince.delete(m.id);
    }
    if (!this.meta.state.member(m.id) && m.id !== this.nodeId) return;
    this.detector.update(this.members());
    this.logger.info('member', { member: m.id, state: m.state, incarnation: m.incarnation, grpc: m.grpcAddress });
    this.emit('member', m);
  }

  /** Every MAINTAIN_MS: this node's own table entry, and (on the leader) the group's voters. */
  #maintain(): void {
    if (this.#closed) return;
    try {
      this.#registerSelf();
      this.spaceGroups.reconcile(this.meta.version);
      if (this.meta.isLeader()) {
        this.#manageVoters();
        this.#allocate();
      }
    } catch (err) {
      this.logger.warn('metadata maintenance failed', { error: (err as Error).message });
    }
  }

  /** After a restart on new addresses (or a lost join answer), commits this node's entry again. */
  #registerSelf(): void {
    const state = this.meta.state;
    if (this.#registering || state.clusterId === null || this.meta.cutOff) return;
    const mine = state.member(this.nodeId);
    const self = this.#self;
    if (mine && mine.storageId === self.storageId && mine.raftId === self.raftId && mine.grpcAddress === self.grpcAddress && mine.gossipAddress === self.gossipAddress) return;
    this.#registering = true;
    this.meta
      .propose({ kind: 'joinMember', requestId: randomUUID(), member: self })
      .then(({ result }) => {
        if (result.status === 'rejected') this.logger.error('this node cannot be a member', { reason: result.message });
      })
      .catch(() => undefined)
      .finally(() => {
        this.#registering = false;
      });
  }

  /**
   * The metadata leader's copy allocation (src/cluster/allocation.ts): one `setCopies` at a time,
   * a lost copy replaced, then joins balanced; the space groups' leaders carry the moves out.
   */
  #allocate(): void {
    if (this.#moving || this.meta.cutOff) return;
    const now = performance.now();
    const swim = new Map(this.membership.members().map((m) => [m.id, m.state]));
    const members = this.meta.state.members().map((m) => {
      const state: MemberState = m.nodeId === this.nodeId ? 'alive' : (swim.get(m.nodeId) ?? 'down');
      // A node that left on SIGTERM is usually restarting (a rolling restart): it gets the same
      // --reassign-after as one that is down before its copies move.
      const gone = state === 'down' || state === 'left';
      if (gone && !this.#downSince.has(m.nodeId)) this.#downSince.set(m.nodeId, now);
      return { nodeId: m.nodeId, state, ...(gone ? { downSinceMs: this.#downSince.get(m.nodeId)! } : {}) };
    });
    const move = nextMove({ spaces: this.meta.state.spaces(), members, nowMs: now, reassignAfterMs: this.#reassignAfterMs, lastReceivedMs: this.#lastReceived, balance: this.#rebalance });
    if (!move) return;
    this.#moving = true;
    this.#lastReceived.set(move.to, now);
    this.logger.info('copy moved', { space: move.space, from: move.from, to: move.to, why: move.why });
    this.meta
      .propose({ kind: 'setCopies', requestId: randomUUID(), space: move.space, expected: move.expected, copies: move.copies })
      .catch((err: unknown) => this.logger.warn('copy move not committed', { space: move.space, error: (err as Error).message }))
      .finally(() => {
        this.#moving = false;
      });
  }

  /**
   * The leader's one change at a time: every member in the group (a learner first), up to
   * `maxVoters` voters among live members, a voter gone or down past `reassignAfterMs` replaced
   * (the newcomer promoted first, then the lost one removed), learners of no member removed.
   */
  #manageVoters(): void {
    const now = performance.now();
    if (now - this.#confChangeAt < CONF_CHANGE_PATIENCE_MS) return;
    const status = this.meta.status();
    const conf = status.confState;
    if (conf.votersOutgoing.length > 0) return;
    // A voter that cannot answer yet (a learner still catching up, or one that never took an
    // append) would count against the quorum at once: promote only learners near the commit.
    const matched = new Map(status.progress.map((p) => [p.id, p.matched]));
    const caughtUp = (id: number) => status.commit - (matched.get(id) ?? 0) <= CAUGHT_UP_ENTRIES;
    const state = this.meta.state;
    if (state.clusterId === null) return;
    const inGroup = new Set([...conf.voters, ...conf.learners]);
    const change = (kind: 'addLearner' | 'addVoter' | 'remove', node: number, why: string) => {
      this.logger.info('metadata group change', { kind, member: state.memberByRaftId(node)?.nodeId ?? `#${node}`, raftId: node, why });
      this.#confChangeAt = now;
      this.meta.proposeConfChange([{ kind, node }]);
    };
    const members = state.members();
    const newcomer = members.find((m) => !inGroup.has(m.raftId));
    if (newcomer) return change('addLearner', newcomer.raftId, 'new member');
    const swim = new Map(this.membership.members().map((m) => [m.id, m.state]));
    const candidates: VoterCandidate[] = members.map((m) => {
      const s: MemberState = m.nodeId === this.nodeId ? 'alive' : (swim.get(m.nodeId) ?? 'down');
      if (s === 'down' && !this.#downSince.has(m.nodeId)) this.#downSince.set(m.nodeId, now);
      return { nodeId: m.nodeId, raftId: m.raftId, state: s, ...(s === 'down' ? { downSinceMs: this.#downSince.get(m.nodeId)! } : {}) };
    });
    const input = { candidates, voters: conf.voters, maxVoters: this.#maxVoters, nowMs: now, reassignAfterMs: this.#reassignAfterMs };
    const lost = voterToReplace(input);
    if (lost) {
      // The lost voter goes first, then its replacement joins: 3 → 2 voters keeps the same
      // tolerance and needs only voters that answer, while 3 → 4 would need three acks, stuck if
      // the newcomer turned out unable to vote. Without a live member to take its place, it stays.
      if (lost.add !== null || conf.voters.length > this.#maxVoters) return change('remove', lost.remove, `voter ${lost.reason}`);
    } else if (conf.voters.length < this.#maxVoters) {
      const add = chooseVoters(input).find((v) => !conf.voters.includes(v) && caughtUp(v));
      if (add !== undefined) return change('addVoter', add, 'fewer voters than wanted');
    } else if (conf.voters.length > this.#maxVoters) {
      const keep = new Set(chooseVoters(input));
      const extra = conf.voters.find((v) => !keep.has(v) && v !== this.#self.raftId);
      if (extra !== undefined) return change('remove', extra, 'more voters than wanted');
    }
    const stray = conf.learners.find((l) => !state.memberByRaftId(l));
    if (stray !== undefined) return change('remove', stray, 'learner of no member');
  }
}

/** Bytes of one ReadSpaceLog chunk. */
const LOG_CHUNK_BYTES = 1024 * 1024;
/** Deadline of one ReadSpaceLog call, ms. */
const LOG_CHUNK_CALL_MS = 10_000;

/**
 * A chunk of `space`'s log from another copy, for a copy catching up from a snapshot: the leader
 * first (it holds every committed entry), then the other copies; the first that has records past
 * `fromPosition - 1` answers.
 */
async function fetchLog(meta: MetaGroup | undefined, groups: SpaceGroups, peers: InternalCalls, self: string, space: string, fromPosition: number): Promise<{ records: Uint8Array[]; raftIndex: number }> {
  const s = meta?.state.space(space);
  if (!meta || !s) throw new SpaceNotFoundError(space);
  const leader = groups.leaderOf(space);
  const sources = [...new Set([leader, s.leaderHint, ...s.copies])].filter((id) => id && id !== self);
  let lastError = 'no other copy';
  for (const id of sources) {
    const m = meta.state.member(id);
    if (!m) continue;
    try {
      const chunk = await peers.internal<{ records: Uint8Array[]; raftIndex: number }>(m.grpcAddress, 'ReadSpaceLog', { space, fromPosition, maxBytes: LOG_CHUNK_BYTES }, LOG_CHUNK_CALL_MS);
      if (chunk.records.length > 0) return { records: chunk.records, raftIndex: Number(chunk.raftIndex) };
    } catch (err) {
      lastError = `${id}: ${(err as Error).message}`;
    }
  }
  throw new Error(`no copy of ${space} had records past position ${fromPosition - 1} (${lastError})`);
}

/** The raft ids `space`'s group should have as voters: its copies' members' current ids. */
function desiredPeers(state: MetaState, space: string): number[] | undefined {
  const s = state.space(space);
  if (!s) return undefined;
  const out: number[] = [];
  for (const id of s.copies) {
    const m = state.member(id);
    if (m) out.push(m.raftId);
  }
  return out;
}

function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * Creates the space of an applied create (or of a copy moved here) when this node holds a copy,
 * and its copy of the space group. A create's copies bootstrap the group together, with the raft
 * ids the table held at that entry (the same on every node, etcd's bootstrap); the intended
 * leader campaigns at once. A copy moved here joins empty and is added by the group's leader.
 */
async function createMine(engine: Engine, nodeId: string, a: Applied, logger: Logger, groups: SpaceGroups, state: MetaState): Promise<void> {
  const r = a.result;
  if (r.status !== 'ok' || !r.changed || !r.space || (r.kind !== 'createSpace' && r.kind !== 'setCopies')) return;
  const s = r.space;
  if (!s.copies.includes(nodeId)) return;
  if (!engine.hasSpace(s.id)) {
    await engine.createSpace(s.id, s.dimension);
    logger.info('space created', { space: s.id, dimension: s.dimension, role: s.leaderHint === nodeId ? 'primary' : 'replica', index: a.index });
  }
  // A group that cannot be made here is logged, not thrown: a throw would stop the metadata
  // group's apply on this node, and with it every other space.
  try {
    if (r.kind === 'createSpace') {
      const voters = s.copies.map((id) => state.member(id)?.raftId).filter((id): id is number => id !== undefined);
      await groups.ensure(s.id, voters, s.copies[0] === nodeId);
    } else {
      await groups.ensure(s.id, null, false);
    }
  } catch (err) {
    logger.error('space group not created', { space: s.id, error: (err as Error).message });
  }
}

/** Finds a member through gossip and asks it to commit this node (`JoinCluster`). */
class Joiner {
  constructor(
    private readonly options: ClusterOptions,
    private readonly membership: SwimMembership,
    private readonly peers: InternalCalls,
    private readonly self: MetaMember,
  ) {}

  /**
   * Tries every live member gossip reports until one answers, or `timeoutMs` passes (then
   * undefined). A refusal because this node is of another cluster is thrown at once.
   */
  async join(clusterId: string | undefined, timeoutMs: number): Promise<(JoinResponseMsg & { through: string }) | undefined> {
    const deadline = performance.now() + timeoutMs;
    const request: JoinRequestMsg = { ...this.self, clusterId: clusterId ?? '' };
    let lastError = '';
    while (performance.now() < deadline) {
      const others = this.membership.members().filter((m) => m.id !== this.self.nodeId && m.state === 'alive');
      for (const m of others) {
        if (performance.now() >= deadline) break;
        try {
          const res = await this.peers.internal<JoinResponseMsg>(m.grpcAddress, 'JoinCluster', request, JOIN_CALL_MS);
          return { ...res, through: m.id };
        } catch (err) {
          const typed = isServiceError(err) ? fromGrpcError(err) : err;
          if (typed instanceof ClusterMismatchError || typed instanceof InvalidArgumentError) throw typed;
          lastError = `${m.id}: ${(typed as Error).message}`;
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    this.options.logger.warn('no member answered the join', { seeds: this.options.seeds, lastError });
    return undefined;
  }
}

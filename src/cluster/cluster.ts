/**
 * One node's membership in a cluster (DESIGN §5): SWIM membership (foca in the addon), the
 * versioned space assignment table spread to every member, and the partition detector. It is
 * the `ClusterView` the query layer reads.
 *
 * Table spreading: a change is pushed to every reachable member, which merges it, creates the
 * spaces it now holds a copy of, and answers its merged table. Every `tableSyncMs` a node also
 * pulls the table of one random live member, and it exchanges tables with every member that comes
 * up, so a node that joins or returns converges without waiting for the next change.
 */
import { EventEmitter } from 'node:events';
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Engine } from '../engine/engine.js';
import { SpaceConflictError, SpaceNotFoundError } from '../errors.js';
import type { Logger } from '../util/logger.js';
import { AssignmentTable, lostEntries, mergeTables } from './assignment-table.js';
import type { ClusterView, Member, SpaceAssignment } from './cluster-view.js';
import { PartitionDetector, type PartitionState } from './partition-detector.js';
import type { InternalCalls } from './peer-clients.js';
import { DEFAULT_REPLICATION_FACTOR, resolvePlacement, type PlacementRequest } from './rendezvous.js';
import { SwimMembership } from './swim-membership.js';
import type { SwimTimingOptions } from './swim-options.js';

/** How often a node pulls the table of one random live member, ms. */
export const DEFAULT_TABLE_SYNC_MS = 1_000;
/** Deadline of one table push or pull, ms. */
export const DEFAULT_TABLE_CALL_MS = 2_000;

export interface ClusterOptions {
  nodeId: string;
  /** This node's gRPC address, told to every member. */
  grpcAddress: string;
  /** HOST:PORT for gossip (UDP); port 0 picks one. */
  gossipAddress: string;
  /** Gossip addresses of members to join through; empty starts a new cluster. */
  seeds: string[];
  /** Shared secret authenticating gossip. */
  clusterKey: string;
  /** Copies of a new space, primary included. Default 2. */
  replicationFactor?: number;
  /** Share of known members below which this node is partitioned. Default 0.6. */
  partitionThreshold?: number;
  /** Time the share must stay healthy before `healing` turns `connected`, ms. Default 2,000. */
  healMs?: number;
  swim?: SwimTimingOptions;
  /** Default DEFAULT_TABLE_SYNC_MS. */
  tableSyncMs?: number;
  /**
   * A gossiping member counts only once it answered an authenticated internal call (mutual TLS):
   * a node that knows the cluster key but holds no certificate of the cluster's CA is never
   * placed on, queried or replicated to. Default false (the cluster key alone admits a member).
   */
  verifyMembers?: boolean;
  logger: Logger;
}

interface TableMsg { json: Buffer | Uint8Array }

export class Cluster extends EventEmitter implements ClusterView {
  readonly nodeId: string;
  readonly membership: SwimMembership;
  readonly detector: PartitionDetector;
  readonly replicationFactor: number;
  #table = AssignmentTable.empty();
  readonly #verifyMembers: boolean;
  /** Members (by id and incarnation) that answered an authenticated internal call. */
  readonly #verified = new Set<string>();
  /** Members whose internal calls were refused as unauthenticated, with the reason. */
  readonly #refused = new Map<string, string>();
  #applying: Promise<void> = Promise.resolve();
  #saving: Promise<void> = Promise.resolve();
  #syncTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(
    options: ClusterOptions,
    membership: SwimMembership,
    private readonly engine: Engine,
    private readonly peers: InternalCalls,
    private readonly logger: Logger,
  ) {
    super();
    this.nodeId = options.nodeId;
    this.membership = membership;
    this.replicationFactor = options.replicationFactor ?? DEFAULT_REPLICATION_FACTOR;
    this.#verifyMembers = options.verifyMembers ?? false;
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

  /** Starts gossip, joins through the seeds, and begins table anti-entropy. */
  static async start(options: ClusterOptions, engine: Engine, peers: InternalCalls): Promise<Cluster> {
    const membership = await SwimMembership.start({
      id: options.nodeId,
      grpcAddress: options.grpcAddress,
      gossipAddress: options.gossipAddress,
      clusterKey: options.clusterKey,
      ...options.swim,
    });
    const cluster = new Cluster(options, membership, engine, peers, options.logger);
    // The table this node last saw: after a restart it knows where every space lives at once,
    // instead of answering NOT_FOUND until its first exchange.
    const saved = await loadTable(tablePath(engine.dataDir));
    if (saved) {
      cluster.#table = saved;
      await cluster.#apply();
    }
    membership.join(options.seeds);
    const every = options.tableSyncMs ?? DEFAULT_TABLE_SYNC_MS;
    cluster.#syncTimer = setInterval(() => void cluster.#syncWithRandomMember(), every).unref();
    return cluster;
  }

  get gossipAddress(): string {
    return this.membership.gossipAddress;
  }

  self(): Member {
    return this.membership.self();
  }

  /** Members as gossip reports them, less those not (yet) authenticated when `verifyMembers`. */
  members(): Member[] {
    const all = this.membership.members();
    return this.#verifyMembers ? all.filter((m) => m.id === this.nodeId || this.#verified.has(verifiedKey(m))) : all;
  }

  /** Members gossip reports that this node refuses (failed authentication), with why. */
  refusedMembers(): { id: string; reason: string }[] {
    return [...this.#refused].map(([id, reason]) => ({ id, reason }));
  }

  member(id: string): Member | undefined {
    return this.members().find((m) => m.id === id);
  }

  assignment(space: string): SpaceAssignment | undefined {
    return this.#table.get(space);
  }

  isPartitioned(): boolean {
    return this.detector.isPartitioned();
  }

  spaces(): string[] {
    return this.#table.entries().map((e) => e.space);
  }

  partitionState(): PartitionState {
    return this.detector.state;
  }

  table(): AssignmentTable {
    return this.#table;
  }

  /**
   * Places a new space (rendezvous over live members unless `request` names the nodes), spreads
   * the table, and returns once every reachable copy holder has created it. The same space and
   * dimension again is not an error (`created: false`).
   */
  async createSpace(space: string, dimension: number, request: PlacementRequest = {}): Promise<{ assignment: SpaceAssignment; created: boolean }> {
    const existing = this.#table.get(space);
    if (existing) {
      if (existing.dimension !== dimension) {
        throw new SpaceConflictError(space, `memory space "${space}" exists with dimension ${existing.dimension}, not ${dimension}`);
      }
      await this.#apply();
      return { assignment: existing, created: false };
    }
    const placement = resolvePlacement(space, this.members(), { replicationFactor: this.replicationFactor, ...request });
    for (let attempt = 0; ; attempt++) {
      const mine = this.#table.assign(space, { ...placement, dimension });
      // Through #merge, which saves the table, durable before the create is answered: a node alone
      // that created a space must still know it after kill -9 (no peer would tell it).
      this.#merge(mine);
      await this.#saving;
      await this.#apply();
      await this.#pushToAll();
      // A concurrent change of equal version with a greater digest wins whole: assign again on top.
      if (lostEntries(mine, this.#table).every((e) => e.space !== space)) break;
      if (attempt >= 5) throw new Error(`could not place space ${space}: the table kept changing under it`);
    }
    return { assignment: this.#table.get(space)!, created: true };
  }

  /** Where a space lives, or SpaceNotFoundError. */
  requireAssignment(space: string): SpaceAssignment {
    const a = this.#table.get(space);
    if (!a) throw new SpaceNotFoundError(space);
    return a;
  }

  /** A table received from another node: merge, create newly assigned spaces, answer ours. */
  async receiveTable(json: unknown): Promise<AssignmentTable> {
    const theirs = AssignmentTable.fromJSON(json);
    this.#merge(theirs);
    await this.#apply();
    return this.#table;
  }

  /** Leaves the cluster gracefully (members see `left`) and stops every timer. */
  async leave(): Promise<void> {
    if (this.#closed) return;
    this.#stopTimers();
    await this.membership.leave();
    await this.#saving;
  }

  /** Stops without telling anyone. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#stopTimers();
    await this.membership.close();
    await this.#saving;
  }

  #stopTimers(): void {
    this.#closed = true;
    clearInterval(this.#syncTimer);
    this.detector.close();
  }

  #merge(theirs: AssignmentTable): void {
    const merged = mergeTables(this.#table, theirs);
    if (merged !== this.#table) {
      const before = this.#table;
      this.#table = merged;
      this.#save(merged);
      this.logger.info('assignment table', { version: merged.version, previous: before.version, spaces: merged.size });
      this.emit('table', merged, before);
    }
  }

  /** Writes the table to the data directory, one write at a time, the newest last. */
  #save(table: AssignmentTable): void {
    this.#saving = this.#saving
      .then(() => saveTable(tablePath(this.engine.dataDir), table))
      .catch((err: unknown) => this.logger.error('saving the assignment table failed', { error: String(err) }));
  }

  /** Creates every space this node holds a copy of and does not have yet; one apply at a time. */
  #apply(): Promise<void> {
    const run = this.#applying.then(async () => {
      for (const entry of this.#table.entries()) {
        if ((entry.primary === this.nodeId || entry.replicas.includes(this.nodeId)) && !this.engine.hasSpace(entry.space)) {
          await this.engine.createSpace(entry.space, entry.dimension);
          this.logger.info('space created', { space: entry.space, dimension: entry.dimension, role: entry.primary === this.nodeId ? 'primary' : 'replica' });
        }
      }
    });
    this.#applying = run.catch((err: unknown) => this.logger.error('applying the assignment table failed', { error: String(err) }));
    return run;
  }

  #reachablePeers(): Member[] {
    return this.members().filter((m) => m.id !== this.nodeId && (m.state === 'alive' || m.state === 'suspect'));
  }

  /** Live gossip members not verified yet: each sync tries them again. */
  #unverifiedPeers(): Member[] {
    if (!this.#verifyMembers) return [];
    return this.membership.members().filter((m) => m.id !== this.nodeId && m.state === 'alive' && !this.#verified.has(verifiedKey(m)));
  }

  /** Sends our table (push) or asks for theirs (pull), merges the answer; after a pull that found them behind, pushes. */
  async #exchange(member: Member, push: boolean): Promise<void> {
    try {
      const res = push
        ? await this.peers.internal<TableMsg>(member.grpcAddress, 'PushTable', { json: Buffer.from(JSON.stringify(this.#table.toJSON())) }, DEFAULT_TABLE_CALL_MS)
        : await this.peers.internal<TableMsg>(member.grpcAddress, 'PullTable', {}, DEFAULT_TABLE_CALL_MS);
      if (this.#verifyMembers && !this.#verified.has(verifiedKey(member))) {
        this.#verified.add(verifiedKey(member));
        this.#refused.delete(member.id);
        this.logger.info('member verified', { member: member.id, incarnation: member.incarnation });
        this.detector.update(this.members());
        this.emit('member', member);
      }
      const theirs = AssignmentTable.fromJSON(JSON.parse(Buffer.from(res.json).toString('utf8')));
      const before = this.#table;
      this.#merge(theirs);
      if (this.#table !== before) await this.#apply();
      if (!push && !this.#table.equals(theirs)) await this.#exchange(member, true);
    } catch (err) {
      if (this.#closed) return;
      if ((err as { code?: unknown }).code === grpcStatus.UNAUTHENTICATED) {
        // It knows the gossip key but not the cluster's certificate: never a member of ours.
        if (!this.#refused.has(member.id)) this.logger.warn('member refused', { member: member.id, error: (err as Error).message });
        this.#refused.set(member.id, (err as Error).message);
        return;
      }
      // An unreachable member is SWIM's business; the next sync or change retries.
      this.logger.warn('table exchange failed', { member: member.id, error: (err as Error).message });
    }
  }

  async #pushToAll(): Promise<void> {
    await Promise.all(this.#reachablePeers().map((m) => this.#exchange(m, true)));
  }

  async #syncWithRandomMember(): Promise<void> {
    await Promise.all(this.#unverifiedPeers().map((m) => this.#exchange(m, false)));
    const peers = this.#reachablePeers();
    if (peers.length === 0 || this.#closed) return;
    await this.#exchange(peers[Math.floor(Math.random() * peers.length)]!, false);
  }

  #onMember(m: Member): void {
    if (this.#closed) return;
    this.detector.update(this.members());
    this.logger.info('member', { member: m.id, state: m.state, incarnation: m.incarnation, grpc: m.grpcAddress });
    this.emit('member', m);
    if (m.state === 'alive' && m.id !== this.nodeId) void this.#exchange(m, false);
  }
}

/** Where a node keeps the last assignment table it saw. */
export function tablePath(dataDir: string): string {
  return join(dataDir, 'cluster-table.json');
}

/** Atomic replace: a crash leaves the old table or the new one, never half of one. */
async function saveTable(path: string, table: AssignmentTable): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(JSON.stringify(table.toJSON()));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

/** The saved table, or undefined when there is none (a damaged one is ignored: peers have it). */
async function loadTable(path: string): Promise<AssignmentTable | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return AssignmentTable.fromJSON(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** A restarted member (new incarnation) must prove itself again. */
function verifiedKey(m: Member): string {
  return `${m.id}\u0000${m.incarnation}`;
}

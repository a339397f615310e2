/**
 * A node's Raft: one RaftHost (every group it holds, on one store) and one RaftTransport (one
 * stream per peer for all of them), the tick and pump loop, and the test-only cut. Groups are
 * dispatched to their state machine by id: `meta` to the metadata group, `space/<id>` (issue 12)
 * to the space groups. Raft ids are per node (src/cluster/identity.ts), the same in every group,
 * so one resolver serves them all.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../util/logger.js';
import { RaftHost, type RaftStateMachine } from '../raft/raft-host.js';
import type { RaftCommittedEntry, RaftSoftState } from '../raft/raft-native-types.js';
import { RaftTransport } from './raft-transport.js';
import type { RaftTransportHost } from './raft-transport-wire.js';

/** Raft tick period, ms (`--raft-tick-ms`). Elections take 10–20 ticks, heartbeats every 2. */
export const DEFAULT_RAFT_TICK_MS = 100;
/** Ticks between a space group leader's heartbeats (the metadata group's: 2). */
const SPACE_HEARTBEAT_TICKS = 5;

export interface RaftNodeOptions {
  dataDir: string;
  nodeId: string;
  clusterId: string;
  clusterKey: string;
  credentials?: grpc.ChannelCredentials;
  requireClientCertificate?: boolean;
  logger: Logger;
  /** gRPC address of raft id `raftId` (any group), or undefined when unknown. */
  resolve(raftId: number): string | undefined;
  /** The state machine of `group`; undefined for a group this node does not know how to run. */
  machineFor(group: string): RaftStateMachine | undefined;
  /** Called after each pump, once the Ready's messages are sent (compaction and the like). */
  afterPump?(): void;
  tickMs?: number;
  /** Election timeout in ticks (randomized in [n, 2n)); default 10. */
  electionTicks?: number;
}

export class RaftNode {
  readonly #options: RaftNodeOptions;
  #host!: RaftHost;
  #transport!: RaftTransport;
  #ticker: NodeJS.Timeout | undefined;
  /** Messages dropped while cut off, reported to raft after the Ready (as a broken link would be). */
  readonly #cutReports: { group: string; to: number; snapshot: boolean }[] = [];
  #closed = false;
  /** Test-only cut (SetFault cutOff): Raft messages neither leave nor are taken in. */
  cutOff = false;

  private constructor(options: RaftNodeOptions) {
    this.#options = options;
  }

  /** Opens the store (restoring every group on disk into its state machine) and the transport; starts ticking. */
  static async open(options: RaftNodeOptions): Promise<RaftNode> {
    const n = new RaftNode(options);
    n.#transport = new RaftTransport({
      clusterId: options.clusterId,
      nodeId: options.nodeId,
      clusterKey: options.clusterKey,
      resolve: (_group, raftId) => options.resolve(raftId),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      requireClientCertificate: options.requireClientCertificate ?? false,
      onReceived: () => n.pump(),
      logger: options.logger,
    });
    const electionTicks = options.electionTicks ?? 10;
    try {
      n.#host = await RaftHost.open(options.dataDir, {
        transport: { send: (group, to, data, snap) => n.#send(group, to, data, snap) },
        stateMachine: n.#dispatch(),
        groupOptions: { electionTicks, heartbeatTicks: Math.max(1, Math.min(2, electionTicks - 1)) },
        // Space groups heartbeat less often: with 1,000 spaces the heartbeats and their Readies
        // are most of an idle node's work (bench/space.ts). The election timeout stays the same,
        // so failover does not slow down; a timeout still spans 2–4 heartbeats.
        groupOptionsFor: (group) => (group.startsWith('space/') ? { electionTicks, heartbeatTicks: Math.max(1, Math.min(SPACE_HEARTBEAT_TICKS, Math.floor(electionTicks / 2))) } : undefined),
        warn: (message) => options.logger.warn('raft store repaired', { message }),
      });
    } catch (e) {
      n.#transport.close();
      throw e;
    }
    n.#transport.attach(n.#guardedHost());
    n.#ticker = setInterval(() => n.#tick(), options.tickMs ?? DEFAULT_RAFT_TICK_MS);
    n.#ticker.unref();
    return n;
  }

  /** The host: groups, proposals, status. */
  get host(): RaftHost {
    return this.#host;
  }

  /** The `Raft` stream handler lives here, for the node's EngramInternal service. */
  get transport(): RaftTransport {
    return this.#transport;
  }

  /** Handles pending Readies and sends what they produced; errors are logged (the next tick retries). */
  pump(): void {
    if (this.#closed) return;
    this.#host.processReadies().then(
      () => {
        if (this.#closed) return;
        // Reported now, not from inside the Ready: a snapshot the leader thinks in flight would
        // otherwise hold that follower until the leader changes.
        for (const r of this.#cutReports.splice(0)) {
          try {
            if (r.snapshot) this.#host.reportSnapshot(r.group, r.to, false);
            else this.#host.reportUnreachable(r.group, r.to);
          } catch {
            // a peer or group no longer there: nothing to report
          }
        }
        this.#transport.flush();
        this.#options.afterPump?.();
      },
      (err: unknown) => this.#options.logger.error('raft failed to process a Ready', { error: String(err) }),
    );
  }

  /** Stops ticking, closes the transport and the store. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#ticker);
    this.#transport.close();
    await this.#host.close();
  }

  #tick(): void {
    if (this.#closed) return;
    const fenced = this.#host.tick();
    if (fenced.length > 0) this.#options.logger.error('raft group fenced off after a panic; restart the node', { groups: fenced });
    this.pump();
  }

  #send(group: string, to: number, data: Uint8Array, snapshot: boolean): void {
    if (this.cutOff) {
      this.#cutReports.push({ group, to, snapshot });
      return;
    }
    this.#transport.send(group, to, data, snapshot);
  }

  /** The host as the transport sees it: while cut off, nothing received is stepped. */
  #guardedHost(): RaftTransportHost {
    return {
      step: (group, data) => (this.cutOff ? null : this.#host.step(group, data)),
      reportUnreachable: (group, peer) => this.#host.reportUnreachable(group, peer),
      reportSnapshot: (group, peer, delivered) => this.#host.reportSnapshot(group, peer, delivered),
    };
  }

  /** One state machine for the host, handing each group's calls to its own. */
  #dispatch(): RaftStateMachine {
    const machine = (group: string): RaftStateMachine => {
      const m = this.#options.machineFor(group);
      if (!m) throw new Error(`raft group ${JSON.stringify(group)} has no state machine on this node`);
      return m;
    };
    return {
      applySnapshot: (group, snapshot) => machine(group).applySnapshot(group, snapshot),
      apply: (group, entry: RaftCommittedEntry) => machine(group).apply(group, entry),
      softState: (group, state: RaftSoftState) => this.#options.machineFor(group)?.softState?.(group, state),
      readState: (group, state) => this.#options.machineFor(group)?.readState?.(group, state),
    };
  }
}

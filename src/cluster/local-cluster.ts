/**
 * A cluster of real `engram-node` processes on 127.0.0.1 with UDP gossip and temporary data
 * directories: what the demo, the integration tests and the benchmarks run on. Waits poll with a
 * deadline derived from the SWIM timings; nothing sleeps a fixed time to synchronise.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { EngramClient, type NodeStatus } from '../client/engram-client.js';
import { protos } from '../wire/proto.js';
import { startNodeProcess, type NodeProcess } from './node-process.js';
import { detectionBudgetMs, parseSwimTiming, type SwimTimingOptions } from './swim-options.js';

/** Between two polls of a wait, ms. */
export const DEFAULT_POLL_MS = 25;

/** Where each node listens and how it is cut off, when nodes do not all sit on loopback. */
export interface NodeNetwork {
  /** Address node `id` binds its gRPC and gossip sockets to. */
  hostFor(id: string): string;
  /** Command prefix that runs node `id` (e.g. in its network namespace). */
  runUnderFor(id: string): string[] | undefined;
  /** Cuts / restores every packet of node `id` (gossip and gRPC). */
  cut(id: string): void;
  heal(id: string): void;
  isolated(id: string): boolean;
  /** The address this process's calls to the nodes come from. */
  callerAddress: string;
}

export interface LocalClusterOptions {
  /** SWIM timing flags for every node; unset passes none (the node's defaults). */
  timing?: SwimTimingOptions;
  /** Default: a fresh random key per cluster. */
  clusterKey?: string;
  /** Serve /metrics on 127.0.0.1:0 for every node. Default false. */
  metrics?: boolean;
  /** Start nodes with --enable-faults (the test-only fault switch). Default false. */
  faults?: boolean;
  /** More flags for every node. */
  extraArgs?: string[];
  /** Prefix of the temporary directory. Default `engram-cluster-`. */
  prefix?: string;
  /** Nodes off loopback (e.g. in network namespaces); cuts then drop real traffic. Default: loopback. */
  network?: NodeNetwork;
  /** Keep every node's log lines in `LocalNode.logs` (for tests that read them). Default false. */
  keepLogs?: boolean;
}

export interface LocalNode {
  id: string;
  proc: NodeProcess;
  client: EngramClient;
  dataDir: string;
  /** performance.now() when the node logged `started`. */
  startedAt: number;
  /** Its log lines, this run's, when the cluster keeps them (`keepLogs`). */
  logs: (Record<string, unknown> | string)[];
}

const running = (n: LocalNode) => n.proc.child.exitCode === null && n.proc.child.signalCode === null;

export class LocalCluster {
  readonly nodes = new Map<string, LocalNode>();
  readonly clusterKey: string;
  private root = '';

  constructor(readonly options: LocalClusterOptions = {}) {
    this.clusterKey = options.clusterKey ?? `local-${Math.random().toString(36).slice(2)}${Date.now()}`;
  }

  /** Worst-case time for every member to see a crashed member down, ms (the SWIM budget). */
  detectionBudgetMs(members = this.nodes.size): number {
    return detectionBudgetMs(parseSwimTiming(this.options.timing ?? {}), Math.max(members, 2));
  }

  /** Starts `count` nodes n1…nN (n1 first, the others seeded from it) and waits for convergence. */
  async start(count: number): Promise<this> {
    this.root = await mkdtemp(join(os.tmpdir(), this.options.prefix ?? 'engram-cluster-'));
    try {
      const first = await this.startNode('n1');
      await Promise.all(Array.from({ length: count - 1 }, (_, i) => this.startNode(`n${i + 2}`, { seeds: [first.proc.gossipAddress] })));
      await this.waitConverged();
    } catch (err) {
      // The caller gets no cluster to stop: stop what did start, or its processes hold the test.
      await this.stop().catch(() => undefined);
      throw err;
    }
    return this;
  }

  /** Starts (or restarts, on its data directory) node `id`, seeded from the running nodes. */
  async startNode(id: string, opts: { seeds?: string[]; key?: string; extraArgs?: string[] } = {}): Promise<LocalNode> {
    const old = this.nodes.get(id);
    const seeds = opts.seeds ?? this.running().filter((n) => n.id !== id).map((n) => n.proc.gossipAddress);
    const dataDir = old?.dataDir ?? join(this.root, id);
    const t = this.options.timing;
    let startedAt = 0;
    const logs: (Record<string, unknown> | string)[] = [];
    const host = this.options.network?.hostFor(id) ?? '127.0.0.1';
    const runUnder = this.options.network?.runUnderFor(id);
    const proc = await startNodeProcess({
      id,
      dataDir,
      listen: `${host}:0`,
      ...(runUnder ? { runUnder } : {}),
      ...(this.options.metrics ? { metrics: `${host}:0` } : {}),
      // With the fault switch on, SetFault can also force a GC, so leak checks see the live heap.
      ...(this.options.faults ? { execArgv: ['--expose-gc'] } : {}),
      onLog: (line) => {
        if (typeof line === 'object' && line.msg === 'started' && startedAt === 0) startedAt = performance.now();
        if (this.options.keepLogs) logs.push(line);
      },
      extraArgs: [
        '--gossip', `${host}:0`,
        // Off loopback a node wants TLS; these test networks are private to this machine.
        ...(host === '127.0.0.1' ? [] : ['--insecure']),
        '--cluster-key', opts.key ?? this.clusterKey,
        ...(t?.probePeriodMs !== undefined ? ['--probe-period-ms', String(t.probePeriodMs)] : []),
        ...(t?.probeTimeoutMs !== undefined ? ['--probe-timeout-ms', String(t.probeTimeoutMs)] : []),
        ...(t?.suspectToDownMs !== undefined ? ['--suspect-timeout-ms', String(t.suspectToDownMs)] : []),
        ...(this.options.faults ? ['--enable-faults'] : []),
        // The harness reaches a namespaced node from the bridge's own address.
        ...(this.options.faults && this.options.network ? ['--fault-callers', this.options.network.callerAddress] : []),
        ...(seeds.length ? ['--seeds', seeds.join(',')] : []),
        ...(this.options.extraArgs ?? []),
        ...(opts.extraArgs ?? []),
      ],
    });
    old?.client.close();
    const node: LocalNode = { id, proc, client: new EngramClient({ nodes: [proc.grpcAddress], deadlineMs: 10_000, routing: 'any' }), dataDir, startedAt: startedAt || performance.now(), logs };
    this.nodes.set(id, node);
    return node;
  }

  node(id: string): LocalNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  running(): LocalNode[] {
    return [...this.nodes.values()].filter(running);
  }

  /** Polls `check` until it returns a value (not undefined) or `deadlineMs` passes. */
  async until<T>(what: string, deadlineMs: number, check: () => Promise<T | undefined>, pollMs = DEFAULT_POLL_MS): Promise<T> {
    const end = Date.now() + deadlineMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await check();
        if (v !== undefined) return v;
      } catch (err) {
        last = err;
      }
      if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  async statuses(nodes = this.running()): Promise<NodeStatus[]> {
    return Promise.all(nodes.map((n) => n.client.status()));
  }

  /**
   * Every running node sees every running node alive, all agree on the metadata leader and hold
   * the same table (digest), every member is in the metadata group and it has its voters.
   */
  async waitConverged(deadlineMs = 6 * this.detectionBudgetMs(Math.max(this.nodes.size, 3)) + 20_000): Promise<NodeStatus[]> {
    const args = [...(this.options.extraArgs ?? [])];
    const at = args.indexOf('--meta-voters');
    const maxVoters = at >= 0 ? Number(args[at + 1]) : 3;
    return this.until('the cluster to converge', deadlineMs, async () => {
      const ids = this.running().map((n) => n.id).sort();
      const all = await this.statuses();
      const first = all[0]!;
      const ok = all.every(
        (s) =>
          JSON.stringify(s.members.filter((m) => m.state === 'alive').map((m) => m.id).sort()) === JSON.stringify(ids) &&
          s.meta !== null && first.meta !== null &&
          s.meta.leader !== '' && s.meta.leader === first.meta.leader &&
          s.meta.digest === first.meta.digest &&
          s.meta.voters.length === Math.min(maxVoters, s.members.length) &&
          s.meta.voters.length + s.meta.learners.length === s.members.length,
      );
      return ok ? all : undefined;
    });
  }

  /** The test-only fault switch of a node (needs `faults: true`); `collectGarbage` only runs a full GC. */
  async setFault(id: string, fault: { cutOff?: boolean; delayMs?: number; delayProbability?: number; delaySpreadRound?: number; collectGarbage?: boolean }): Promise<void> {
    // With a real network, a cut is the link going down (after telling the node the rest, while
    // it can still be reached) and a heal the link coming back (before).
    const network = this.options.network;
    if (network?.isolated(id) && fault.cutOff !== undefined && !fault.collectGarbage) {
      if (!fault.cutOff) {
        network.heal(id);
        // Right after the link comes back the host may still hold a failed neighbour entry for
        // the node (EHOSTUNREACH) for a moment: try again until it resolves.
        await this.until(`${id} to be reachable after the heal`, 10_000, () =>
          this.#sendFault(id, { ...fault, cutOff: false }).then(() => true, () => undefined), 100);
        return;
      }
      await this.#sendFault(id, { ...fault, cutOff: false });
      if (fault.cutOff) network.cut(id);
      return;
    }
    await this.#sendFault(id, fault);
  }

  async #sendFault(id: string, fault: { cutOff?: boolean; delayMs?: number; delayProbability?: number; delaySpreadRound?: number; collectGarbage?: boolean }): Promise<void> {
    const { InternalClient } = protos();
    const client = new InternalClient(this.node(id).proc.grpcAddress, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
    try {
      await new Promise<void>((resolve, reject) =>
        client.SetFault!({ cutOff: fault.cutOff ?? false, delayMs: fault.delayMs ?? 0, delayProbability: fault.delayProbability ?? 0, delaySpreadRound: fault.delaySpreadRound ?? 0, collectGarbage: fault.collectGarbage ?? false }, { deadline: Date.now() + 5_000 }, (err: Error | null) => (err ? reject(err) : resolve())),
      );
    } finally {
      client.close();
    }
  }

  /** Stops every node (SIGTERM, then SIGKILL after a grace), closes clients, removes the data. */
  async stop(): Promise<void> {
    for (const n of this.nodes.values()) n.client.close();
    await Promise.all([...this.nodes.values()].map((n) => n.proc.stop(5_000)));
    if (this.root) await rm(this.root, { recursive: true, force: true });
  }
}

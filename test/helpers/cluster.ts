/**
 * TestCluster: real node processes on 127.0.0.1 forming a cluster over real UDP gossip, with fast
 * SWIM timings. Every wait polls with a deadline derived from those timings; nothing sleeps a
 * fixed time to synchronise.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startNodeProcess, type NodeProcess } from '../../src/cluster/node-process.js';
import { EngramClient, type NodeStatus } from '../../src/client/engram-client.js';
import { detectionBudgetMs, parseSwimTiming } from '../../src/cluster/swim-options.js';
import { protos } from '../../src/wire/proto.js';

export const TIMING = { probePeriodMs: 200, probeTimeoutMs: 80, suspectToDownMs: 600 };
export const CLUSTER_KEY = 'test-cluster-key';

export interface ClusterNode {
  id: string;
  proc: NodeProcess;
  client: EngramClient;
  dataDir: string;
}

export class TestCluster {
  readonly nodes = new Map<string, ClusterNode>();
  private root = '';
  private readonly extra: string[];

  constructor(extraArgs: string[] = []) {
    this.extra = extraArgs;
  }

  /** Worst-case time for every member to see a crashed member down, ms (3× the SWIM budget). */
  detectionDeadlineMs(members = this.nodes.size): number {
    return 3 * detectionBudgetMs(parseSwimTiming(TIMING), Math.max(members, 2));
  }

  async start(count: number): Promise<this> {
    this.root = await mkdtemp(join(os.tmpdir(), 'engram-cluster-'));
    const first = await this.startNode('n1');
    await Promise.all(Array.from({ length: count - 1 }, (_, i) => this.startNode(`n${i + 2}`, { seeds: [first.proc.gossipAddress] })));
    await this.waitConverged();
    return this;
  }

  /** Starts (or restarts, on its data directory) node `id`. */
  async startNode(id: string, opts: { seeds?: string[]; key?: string; extraArgs?: string[] } = {}): Promise<ClusterNode> {
    const old = this.nodes.get(id);
    const seeds = opts.seeds ?? [...this.nodes.values()].filter((n) => n.id !== id && n.proc.child.exitCode === null && n.proc.child.signalCode === null).map((n) => n.proc.gossipAddress);
    const dataDir = old?.dataDir ?? join(this.root, id);
    const proc = await startNodeProcess({
      id,
      dataDir,
      extraArgs: [
        '--gossip', '127.0.0.1:0',
        '--cluster-key', opts.key ?? CLUSTER_KEY,
        '--probe-period-ms', String(TIMING.probePeriodMs),
        '--probe-timeout-ms', String(TIMING.probeTimeoutMs),
        '--suspect-timeout-ms', String(TIMING.suspectToDownMs),
        '--heal-ms', '500',
        '--enable-faults',
        ...(seeds.length ? ['--seeds', seeds.join(',')] : []),
        ...this.extra,
        ...(opts.extraArgs ?? []),
      ],
    });
    old?.client.close();
    const node = { id, proc, client: new EngramClient(proc.grpcAddress, 10_000), dataDir };
    this.nodes.set(id, node);
    return node;
  }

  node(id: string): ClusterNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  running(): ClusterNode[] {
    return [...this.nodes.values()].filter((n) => n.proc.child.exitCode === null && n.proc.child.signalCode === null);
  }

  /** Polls `check` until it returns a value (not undefined) or the deadline passes. */
  async until<T>(what: string, deadlineMs: number, check: () => Promise<T | undefined>): Promise<T> {
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
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async statuses(nodes = this.running()): Promise<NodeStatus[]> {
    return Promise.all(nodes.map((n) => n.client.status()));
  }

  /** Every running node sees every running node alive, and all hold the same table version. */
  async waitConverged(deadlineMs = this.detectionDeadlineMs() * 2): Promise<NodeStatus[]> {
    return this.until('the cluster to converge', deadlineMs, async () => {
      const ids = this.running().map((n) => n.id).sort();
      const all = await this.statuses();
      const ok = all.every(
        (s) =>
          JSON.stringify(s.members.filter((m) => m.state === 'alive').map((m) => m.id).sort()) === JSON.stringify(ids) &&
          s.tableVersion === all[0]!.tableVersion,
      );
      return ok ? all : undefined;
    });
  }

  /** The test-only fault switch of a node (internal service, loopback). */
  async setFault(id: string, fault: { cutOff?: boolean; delayMs?: number }): Promise<void> {
    const { InternalClient } = protos();
    const client = new InternalClient(this.node(id).proc.grpcAddress, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
    try {
      await new Promise<void>((resolve, reject) =>
        client.SetFault!({ cutOff: fault.cutOff ?? false, delayMs: fault.delayMs ?? 0 }, { deadline: Date.now() + 5_000 }, (err: Error | null) => (err ? reject(err) : resolve())),
      );
    } finally {
      client.close();
    }
  }

  async stop(): Promise<void> {
    for (const n of this.nodes.values()) n.client.close();
    await Promise.all([...this.nodes.values()].map((n) => n.proc.stop()));
    if (this.root) await rm(this.root, { recursive: true, force: true });
  }
}

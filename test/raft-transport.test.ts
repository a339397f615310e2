/**
 * RaftHosts on real files talking over the Raft transport through real gRPC servers on
 * 127.0.0.1: groups form and commit, a killed node is reported unreachable while the others go
 * on, and the same node restarted on its address catches up from a snapshot. Each "node" is a
 * RaftHost + RaftTransport + grpc.Server in this process, ticked by an unref()'d interval; the
 * tests wait for conditions with a deadline, never for a fixed time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { RaftTransport } from '../src/cluster/raft-transport.js';
import { RaftHost } from '../src/raft/raft-host.js';
import { LEAN_CHANNEL_OPTIONS, protos } from '../src/wire/proto.js';

process.env.ENGRAM_NATIVE = 'required';

const KEY = 'raft-transport-test-key';
const CLUSTER = 'c0ffee00-0000-4000-8000-000000000001';
/** Tick period, ms: elections take 10–20 ticks, so ~0.2–0.4 s. */
const TICK_MS = 20;
const WAIT_MS = 20_000;

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

/** Polls `cond` until it holds or the deadline passes. */
async function until(what: string, cond: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Raft id → gRPC address, shared by every node's resolver (what the metadata will provide). */
type Directory = Map<number, string>;

class TestNode {
  host!: RaftHost;
  transport!: RaftTransport;
  server!: grpc.Server;
  port = 0;
  /** group → index → payload (no-ops and conf changes left out). */
  readonly applied = new Map<string, Map<number, string>>();
  readonly unreachable: string[] = [];
  readonly snapshots: string[] = [];
  readonly errors: unknown[] = [];
  snapshotsInstalled = 0;
  #ticker: NodeJS.Timeout | undefined;

  constructor(readonly id: number, readonly dir: string, readonly directory: Directory, readonly idlePeerMs?: number) {}

  get nodeId(): string {
    return `n${this.id}`;
  }

  /** Opens the host from `dir` (what is on disk), its transport and a server (on `port`, or a new one). */
  async start(port = 0): Promise<void> {
    this.transport = new RaftTransport({
      clusterId: CLUSTER,
      nodeId: this.nodeId,
      clusterKey: KEY,
      resolve: (_group, raftId) => this.directory.get(raftId),
      initialBackoffMs: 20,
      maxBackoffMs: 200,
      onReceived: () => this.pump(),
      ...(this.idlePeerMs !== undefined ? { idlePeerMs: this.idlePeerMs } : {}),
    });
    this.host = await RaftHost.open(this.dir, {
      transport: this.transport,
      groupOptions: { electionTicks: 10, heartbeatTicks: 2 },
      stateMachine: {
        applySnapshot: (group, s) => {
          this.snapshotsInstalled++;
          this.applied.set(group, new Map(JSON.parse(text(s.data)) as [number, string][]));
        },
        apply: (group, e) => {
          const m = this.applied.get(group) ?? new Map<number, string>();
          this.applied.set(group, m);
          if (!e.confChange && e.data.byteLength > 0) m.set(e.index, text(e.data));
        },
      },
    });
    const host = this.host;
    // The reports are what a test observes of the sender: record them, then pass them on.
    this.transport.attach({
      step: (group, data) => host.step(group, data),
      reportUnreachable: (group, peer) => {
        this.unreachable.push(`${group}/${peer}`);
        host.reportUnreachable(group, peer);
      },
      reportSnapshot: (group, peer, delivered) => {
        this.snapshots.push(`${group}/${peer}/${delivered}`);
        host.reportSnapshot(group, peer, delivered);
      },
    });
    this.server = new grpc.Server({ ...LEAN_CHANNEL_OPTIONS });
    this.server.addService(protos().internalService, this.transport.handlers());
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.directory.set(this.id, `127.0.0.1:${this.port}`);
  }

  /** Ticks every TICK_MS; the interval is unref()'d so it never holds the process. */
  run(): void {
    this.#ticker = setInterval(() => {
      this.errors.push(...this.host.tick().map((g) => new Error(`group ${g} fenced off`)));
      this.pump();
    }, TICK_MS);
    this.#ticker.unref();
  }

  /** Handles the Readies, then sends what they produced: one batch per peer. */
  pump(): void {
    this.host.processReadies().then(
      () => this.transport.flush(),
      (err: unknown) => this.errors.push(err),
    );
  }

  /** Like kill -9 of a node: ticks stop, its server drops every connection; only what it fsynced stays. */
  async stop(): Promise<void> {
    clearInterval(this.#ticker);
    this.transport.close();
    this.server.forceShutdown();
    await this.host.close();
  }

  values(group: string): string[] {
    return [...(this.applied.get(group) ?? new Map<number, string>()).entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  }
}

class TestCluster {
  readonly nodes: TestNode[] = [];
  readonly directory: Directory = new Map();

  /** `campaign`: a node that campaigns for every group before anyone ticks. */
  static async start(n: number, groups: string[], options: { campaign?: number; idlePeerMs?: number } = {}): Promise<TestCluster> {
    const c = new TestCluster();
    for (let id = 1; id <= n; id++) c.nodes.push(new TestNode(id, await mkdtemp(join(tmpdir(), 'engram-raft-transport-')), c.directory, options.idlePeerMs));
    // Every server listens before any node ticks, so no first dial meets a closed port.
    for (const node of c.nodes) await node.start();
    const voters = c.nodes.map((node) => node.id);
    for (const node of c.nodes) for (const g of groups) await node.host.createGroup(g, node.id, voters);
    if (options.campaign !== undefined) {
      const node = c.node(options.campaign);
      // raft-rs ignores a campaign while the bootstrap configuration is not applied yet.
      await node.host.processReadies();
      for (const g of groups) node.host.campaign(g);
      node.pump();
    }
    for (const node of c.nodes) node.run();
    return c;
  }

  node(id: number): TestNode {
    return this.nodes[id - 1]!;
  }

  /** The leader of `group` among `among`, once exactly one of them leads at the highest term. */
  async leader(group: string, among: TestNode[] = this.nodes): Promise<TestNode> {
    let found: TestNode | undefined;
    await until(`a leader of ${group}`, () => {
      const leaders = among.filter((n) => n.host.status(group).role === 'leader');
      const term = Math.max(...among.map((n) => n.host.status(group).term));
      found = leaders.find((n) => n.host.status(group).term === term);
      return found !== undefined;
    });
    return found!;
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) await node.stop().catch(() => undefined);
    await Promise.all(this.nodes.map((node) => rm(node.dir, { recursive: true, force: true })));
  }
}

describe('Raft transport over gRPC', () => {
  // Nothing outlives the tests: no socket, server or ref'd timer more than before the first one.
  const counted = () => {
    const n = new Map<string, number>();
    for (const r of process.getActiveResourcesInfo()) if (/TCP|UDP|Pipe|Timeout|FSReq/.test(r)) n.set(r, (n.get(r) ?? 0) + 1);
    return Object.fromEntries([...n].sort());
  };
  let baseline: Record<string, number> = {};
  before(() => {
    baseline = counted();
  });
  after(async () => {
    // Closed sockets leave the handle list on a later turn of the event loop: poll, then compare.
    await until('sockets and timers released', () => JSON.stringify(counted()) === JSON.stringify(baseline), 5_000).catch(() => undefined);
    assert.deepEqual(counted(), baseline);
  });

  it('three nodes form two groups and commit in both; the leader of both opens one stream per peer, shared by the groups', async (t) => {
    // Node 1 campaigns for both groups before anyone ticks, so it leads both and talks to both
    // peers in both groups; a follower only ever answers its leader.
    const c = await TestCluster.start(3, ['meta', 'space-a'], { campaign: 1 });
    t.after(() => c.stop());
    for (const g of ['meta', 'space-a']) {
      const leader = await c.leader(g);
      assert.equal(leader.id, 1);
      for (let i = 0; i < 5; i++) leader.host.propose(g, Buffer.from(`${g}:${i}`));
    }
    const want = (g: string) => Array.from({ length: 5 }, (_, i) => `${g}:${i}`);
    await until('every node applied both groups', () => c.nodes.every((n) => ['meta', 'space-a'].every((g) => n.values(g).join() === want(g).join())));
    const streams = c.nodes.map((n) => {
      const s = n.transport.stats();
      assert.deepEqual(n.errors, []);
      assert.equal(s.messagesStepFailed, 0);
      assert.ok(s.messagesReceived >= s.batchesReceived && s.batchesReceived > 0);
      assert.deepEqual(n.unreachable, []);
      return [s.streamsOpened, s.streamsBroken, s.streamsAccepted, s.peers];
    });
    // Opened, broken, accepted, peers: two groups, still one stream per direction of a pair.
    assert.deepEqual(streams, [[2, 0, 2, 2], [1, 0, 1, 1], [1, 0, 1, 1]]);
  });

  it('a killed node is reported unreachable while the others commit, and catches up when it returns on its address or on a new one', async (t) => {
    const c = await TestCluster.start(3, ['meta'], { idlePeerMs: 300 });
    t.after(() => c.stop());
    const leader = await c.leader('meta');
    const victim = c.nodes.find((n) => n !== leader)!;
    const survivor = c.nodes.find((n) => n !== leader && n !== victim)!;
    const live = [leader, survivor];
    const log: string[] = [];
    const commit = async (nodes: TestNode[], ...values: string[]) => {
      const l = await c.leader('meta', nodes);
      for (const v of values) l.host.propose('meta', Buffer.from(v));
      log.push(...values);
      await until(`${nodes.length} nodes applied ${values.join()}`, () => nodes.every((n) => n.values('meta').join() === log.join()));
    };
    await commit(c.nodes, 'before');

    // 1. Killed, the others commit and the leader reports it; back on the same address, the
    //    streams to it reopen (after their backoff) and it catches up.
    await victim.stop();
    await commit(live, 'down:1', 'down:2', 'down:3');
    // Whoever leads now (a slow tick can move the leadership) sends to the victim and reports it.
    await until('the victim reported unreachable', () => live.some((n) => n.unreachable.includes(`meta/${victim.id}`) && n.transport.stats().streamsBroken >= 1));
    await victim.start(victim.port);
    victim.run();
    await until('the victim caught up', () => victim.values('meta').join() === log.join());
    await commit(c.nodes, 'back');

    // 2. Killed again, the live logs compacted past all it has, back on a new address (what the
    //    metadata would announce): only a snapshot can catch it up. Messages queued for the old
    //    address never reach it, and that peer is forgotten once idle.
    await victim.stop();
    await commit(live, 'gone:1', 'gone:2');
    for (const n of live) {
      const applied = n.host.status('meta').applied;
      const state = [...n.applied.get('meta')!.entries()].filter(([index]) => index <= applied);
      await n.host.compact('meta', applied, Buffer.from(JSON.stringify(state)));
      assert.ok(n.host.status('meta').firstIndex > victim.host.status('meta').lastIndex + 1);
    }
    const oldPort = victim.port;
    await victim.start();
    assert.notEqual(victim.port, oldPort);
    victim.run();
    await until('the victim caught up from a snapshot', () => victim.values('meta').join() === log.join());
    assert.equal(victim.snapshotsInstalled, 1);
    await until('the snapshot reported delivered', () => live.some((n) => n.snapshots.includes(`meta/${victim.id}/true`)));
    await commit(c.nodes, 'after');
    // A leader has had three addresses (the survivor, the victim's old and new): the old one goes.
    await until('the old address forgotten', () => c.nodes.every((n) => n.transport.stats().peers <= 2));
    for (const n of c.nodes) assert.deepEqual(n.errors, []);
  });
});

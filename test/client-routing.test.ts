/**
 * The owner-aware client (DESIGN §8, issue 13): a query of one space goes straight to a node
 * holding a copy of it, learnt from the placement table; everything else, and anything the table
 * cannot place, goes to the configured nodes. Checked three ways: the pure parts (copy choice,
 * when the table is asked for) with fakes and a fake clock; the client against gRPC servers in
 * this process that count every call; and real node processes, read through their /metrics.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { EngramClient } from '../src/client/engram-client.js';
import { parseClientOptions, DEFAULT_TABLE_REFRESH_MS } from '../src/client/client-options.js';
import { orderCopies } from '../src/client/copy-choice.js';
import type { NodeStatus } from '../src/client/node-status.js';
import { PlacementCache } from '../src/client/placement-cache.js';
import { PlacementTable, type CopyHolder } from '../src/client/placement-table.js';
import { AllPartitionsFailedError, InvalidArgumentError } from '../src/errors.js';
import { buildCoverage, coverageToWire } from '../src/query/coverage.js';
import { protos } from '../src/wire/proto.js';
import { TestCluster } from './helpers/cluster.js';
import { deadAddress, vec } from './helpers/node.js';
import { TestPki } from './helpers/security-certs.js';

type MemberState = 'alive' | 'suspect' | 'down' | 'left';

/** A Status answer placing `assignments` on `members`. */
function statusOf(version: number, members: { id: string; address: string; state?: MemberState }[], assignments: { space: string; primary: string; replicas?: string[] }[]): NodeStatus {
  return {
    nodeId: 'configured', storageId: '', version: 'test', uptimeS: 1, grpcAddress: '', spaces: [], gossipAddress: '', groups: [], partitionState: 'connected', meta: null,
    members: members.map((m) => ({ id: m.id, grpcAddress: m.address, gossipAddress: '', state: m.state ?? 'alive', incarnation: 0 })),
    tableVersion: version,
    assignments: assignments.map((a) => ({ space: a.space, primary: a.primary, replicas: a.replicas ?? [], dimension: 4, version })),
  };
}

describe('copy choice', () => {
  const copies: CopyHolder[] = [
    { node: 'p', address: 'P', role: 'primary', state: 'alive' },
    { node: 'r1', address: 'R1', role: 'replica', state: 'alive' },
    { node: 'r2', address: 'R2', role: 'replica', state: 'alive' },
  ];
  const idle = { inFlight: () => 0, avoid: () => false };
  const order = (choice: Partial<Parameters<typeof orderCopies>[1]>, of = copies) => orderCopies(of, { leader: false, turn: 0, ...idle, ...choice }).map((c) => c.address);

  it('a call for the leader tries the primary first, however busy', () => {
    for (const turn of [0, 1, 2]) assert.equal(order({ leader: true, turn, inFlight: (a) => (a === 'P' ? 9 : 0) })[0], 'P');
  });

  it('reads take turns over idle copies, prefer the least busy, and put suspect copies last', () => {
    assert.deepEqual([0, 1, 2, 3].map((turn) => order({ turn })[0]), ['P', 'R1', 'R2', 'P']);
    assert.deepEqual(order({ inFlight: (a) => ({ P: 2, R1: 1, R2: 3 })[a] ?? 0 }), ['R1', 'P', 'R2']);
    const suspect = copies.map((c) => (c.address === 'P' ? { ...c, state: 'suspect' as const } : c));
    assert.deepEqual(order({ inFlight: (a) => (a === 'P' ? 0 : 5) }, suspect), ['R1', 'R2', 'P']);
  });

  it('leaves out a copy to avoid', () => {
    assert.deepEqual(order({ leader: true, avoid: (a) => a === 'P' }), ['R1', 'R2']);
  });
});

describe('the placement table and when it is asked for', () => {
  it('never places a copy on a member that is down, left or unknown', () => {
    const table = PlacementTable.fromStatus(statusOf(3, [
      { id: 'a', address: 'A', state: 'down' }, { id: 'b', address: 'B', state: 'suspect' }, { id: 'c', address: 'C', state: 'left' },
    ], [{ space: 's', primary: 'a', replicas: ['b', 'c', 'gone'] }]));
    assert.deepEqual(table.copies('s'), [{ node: 'b', address: 'B', role: 'replica', state: 'suspect' }]);
    assert.deepEqual([table.has('s'), table.has('t'), table.copies('t')], [true, false, []]);
  });

  it('an answer with an older table keeps the newer assignments, and takes its member states', () => {
    const newer = PlacementTable.fromStatus(statusOf(9, [{ id: 'a', address: 'A' }, { id: 'b', address: 'B' }], [{ space: 's', primary: 'b' }]));
    const merged = PlacementTable.fromStatus(statusOf(4, [{ id: 'a', address: 'A' }, { id: 'b', address: 'B', state: 'down' }], [{ space: 's', primary: 'a' }]), newer);
    assert.equal(merged.version, 9);
    assert.deepEqual(merged.copies('s'), []);
  });

  /** A PlacementCache over a fake clock and a fetch the test answers by hand. */
  function harness(refreshMs = 1_000) {
    let now = 0;
    const asks: { budgetMs: number; answer: (s: NodeStatus) => void; fail: (e: Error) => void }[] = [];
    const cache = new PlacementCache({
      refreshMs,
      now: () => now,
      fetch: (budgetMs) => new Promise((answer, fail) => asks.push({ budgetMs, answer, fail })),
    });
    return { cache, asks, advance: (ms: number) => (now += ms) };
  }
  const one = (primary: string) => statusOf(1, [{ id: 'a', address: 'A' }, { id: 'b', address: 'B' }], [{ space: 's', primary }]);

  it('the first call waits for the table, within the budget it gives; a concurrent call does not wait', async () => {
    const { cache, asks } = harness();
    const first = cache.current(400);
    assert.equal(await cache.current(400), undefined, 'the second call waited for the first one\'s Status');
    assert.equal(asks.length, 1);
    assert.equal(asks[0]!.budgetMs, 400);
    asks[0]!.answer(one('a'));
    assert.equal((await first)?.copies('s')[0]?.address, 'A');
  });

  it('a failed Status only means no table, and is not asked again before refreshMs', async () => {
    const { cache, asks, advance } = harness(1_000);
    const first = cache.current(400);
    asks[0]!.fail(new Error('unreachable'));
    assert.equal(await first, undefined);
    advance(999);
    assert.equal(await cache.current(400), undefined);
    assert.equal(asks.length, 1);
    advance(1);
    void cache.current(400);
    assert.equal(asks.length, 2);
    // No budget left: nothing is asked.
    const { cache: c2, asks: a2 } = harness();
    assert.equal(await c2.current(0), undefined);
    assert.equal(a2.length, 0);
  });

  it('an old table is used at once and refreshed in the background', async () => {
    const { cache, asks, advance } = harness(1_000);
    const first = cache.current(400);
    asks[0]!.answer(one('a'));
    await first;
    advance(500);
    assert.equal((await cache.current(400))?.copies('s')[0]?.address, 'A');
    assert.equal(asks.length, 1, 'asked before refreshMs');
    advance(500);
    assert.equal((await cache.current(400))?.copies('s')[0]?.address, 'A', 'waited for the refresh');
    assert.equal(asks.length, 2);
    asks[1]!.answer(one('b'));
    await Promise.resolve();
    assert.equal((await cache.current(400))?.copies('s')[0]?.address, 'B');
  });

  it('a copy that failed is avoided for refreshMs, and the table asked for at once', async () => {
    const { cache, asks, advance } = harness(1_000);
    const first = cache.current(400);
    asks[0]!.answer(one('a'));
    await first;
    cache.failed('A', 300);
    assert.deepEqual([asks.length, asks[1]?.budgetMs, cache.avoided('A'), cache.avoided('B')], [2, 300, true, false]);
    advance(1_000);
    assert.equal(cache.avoided('A'), false);
  });

  it('options: routing and tableRefreshMs are checked, an explicit 0 stays 0, the input is not changed', () => {
    const input = { nodes: ['127.0.0.1:1'], tableRefreshMs: 0 };
    assert.deepEqual([parseClientOptions(input).routing, parseClientOptions(input).tableRefreshMs], ['owner', 0]);
    assert.equal(parseClientOptions({ nodes: ['x:1'] }).tableRefreshMs, DEFAULT_TABLE_REFRESH_MS);
    assert.deepEqual(input, { nodes: ['127.0.0.1:1'], tableRefreshMs: 0 });
    assert.throws(() => new EngramClient({ nodes: ['x:1'], routing: 'nearest' as 'any' }), { code: 'ERR_INVALID_ARGUMENT', field: 'routing' });
    assert.throws(() => new EngramClient({ nodes: ['x:1'], tableRefreshMs: -1 }), InvalidArgumentError);
  });
});

/** A public-service server in this process: counts calls by method, answers a table and empty results. */
class FakeNode {
  readonly calls = new Map<string, number>();
  /** The Status answer; throw to fail it. `hang` leaves Status unanswered. */
  status: () => NodeStatus = () => statusOf(0, [], []);
  hang = false;
  // Default options: with channelz off (LEAN_CHANNEL_OPTIONS), grpc-js 1.14's forceShutdown()
  // leaves open connections serving, and the tests below stop a copy holder that way.
  readonly server = new grpc.Server();
  address = '';
  constructor(readonly id: string) {}

  count(method: string): number {
    return this.calls.get(method) ?? 0;
  }

  async start(credentials = grpc.ServerCredentials.createInsecure()): Promise<this> {
    const seen = (method: string) => this.calls.set(method, this.count(method) + 1);
    const coverage = coverageToWire(buildCoverage([], 0, false));
    const results: Record<string, object> = {
      recall: { recall: { memories: [] } },
      spread: { spread: { activations: [] } },
      imagine: { imagine: { items: [] } },
      consolidate: { consolidate: { memories: 0, patternsCreated: 0, patternsTotal: 0, memoriesInPatterns: 0, durationMs: 0, stoppedEarly: false } },
    };
    this.server.addService(protos().publicService, {
      Status: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
        seen('Status');
        if (this.hang) return;
        try {
          callback(null, this.status());
        } catch (err) {
          callback({ code: grpc.status.INTERNAL, details: String(err) }, null);
        }
      },
      ExecuteQuery: (call: grpc.ServerUnaryCall<{ query: { kind: string } }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        seen('ExecuteQuery');
        callback(null, { ...results[call.request.query.kind], coverage });
      },
      Store: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
        seen('Store');
        callback(null, { memories: 1, associations: 0, copies: 1, logPosition: 1 });
      },
      CreateSpace: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
        seen('CreateSpace');
        callback(null, { space: 's', dimension: 4, created: true, primary: this.id, replicas: [] });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.address = `127.0.0.1:${port}`;
    return this;
  }
}

const cue = { embedding: Float32Array.from([1, 0, 0, 0]) };
const recall = (space: string) => ({ kind: 'recall' as const, space, cue });

/** Calls per fake node of `method`, keyed by id. */
const tally = (nodes: FakeNode[], method = 'ExecuteQuery') => Object.fromEntries(nodes.map((n) => [n.id, n.count(method)]));

/** Polls `check` every 5 ms until it holds, failing after `ms`. */
async function eventually(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    assert.ok(performance.now() < end, `never: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A TCP relay in front of `target`: counts the connections open through it. */
async function tcpProxy(target: string): Promise<{ address: string; open: () => number; close: () => void }> {
  const sockets = new Set<Socket>();
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const server = createServer((socket) => {
    sockets.add(socket);
    const upstream = connect(port, host);
    const done = () => {
      sockets.delete(socket);
      socket.destroy();
      upstream.destroy();
    };
    for (const s of [socket, upstream]) {
      s.on('close', done);
      s.on('error', () => undefined);
    }
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    open: () => sockets.size,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('EngramClient routing, against servers in this process', () => {
  const fakes: FakeNode[] = [];
  const clients: EngramClient[] = [];
  const fake = async (id: string, credentials?: grpc.ServerCredentials) => {
    const f = await new FakeNode(id).start(credentials);
    fakes.push(f);
    return f;
  };
  const client = (options: Partial<ConstructorParameters<typeof EngramClient>[0]> & { nodes: string[] }) => {
    const c = new EngramClient({ deadlineMs: 5_000, tableRefreshMs: 60_000, ...options });
    clients.push(c);
    return c;
  };
  after(() => {
    for (const c of clients) c.close();
    for (const f of fakes) f.server.forceShutdown();
  });

  it('a one-space query goes straight to the copy holder; several spaces, an unknown space and CreateSpace go to the configured node', async () => {
    const [a, b] = [await fake('a'), await fake('b')];
    a.status = () => statusOf(5, [{ id: 'a', address: a.address }, { id: 'b', address: b.address }], [{ space: 'notes', primary: 'b' }, { space: 'other', primary: 'a' }]);
    const c = client({ nodes: [a.address] });
    await c.query(recall('notes'));
    await c.query({ kind: 'spread', space: 'notes', seeds: ['m1'] });
    await c.query({ kind: 'imagine', spaces: ['notes'], cue });
    assert.deepEqual(tally([a, b]), { a: 0, b: 3 });
    await c.query({ kind: 'imagine', spaces: ['notes', 'other'], cue });
    await c.query(recall('unplaced'));
    await c.createSpace('new', { dimension: 4 });
    assert.deepEqual(tally([a, b]), { a: 2, b: 3 });
    assert.deepEqual([a.count('CreateSpace'), b.count('CreateSpace')], [1, 0]);
    // Stores go to the primary too (the leader hint).
    await c.store('notes', { memories: [{ id: 'm', embedding: [1, 0, 0, 0] }] });
    assert.deepEqual(tally([a, b], 'Store'), { a: 0, b: 1 });
    // One Status taught it all (tableRefreshMs is a minute here).
    assert.deepEqual(tally([a, b], 'Status'), { a: 1, b: 0 });
  });

  it('consolidate, leader reads and store try the primary first, other reads take turns over the copies, members down or left are never called', async () => {
    const [a, p, r, down, left] = [await fake('a'), await fake('p'), await fake('r'), await fake('down'), await fake('left')];
    a.status = () => statusOf(5, [
      { id: 'a', address: a.address }, { id: 'p', address: p.address }, { id: 'r', address: r.address },
      { id: 'down', address: down.address, state: 'down' }, { id: 'left', address: left.address, state: 'left' },
    ], [{ space: 'notes', primary: 'p', replicas: ['r', 'down', 'left'] }]);
    const c = client({ nodes: [a.address] });
    for (let i = 0; i < 4; i++) await c.query(recall('notes'));
    assert.deepEqual(tally([a, p, r, down, left]), { a: 0, p: 2, r: 2, down: 0, left: 0 });
    for (let i = 0; i < 2; i++) await c.query({ kind: 'consolidate', space: 'notes' });
    await c.query(recall('notes'), { consistency: 'leader' });
    await c.store('notes', { memories: [{ id: 'm', embedding: [1, 0, 0, 0] }] });
    assert.deepEqual(tally([a, p, r, down, left]), { a: 0, p: 5, r: 2, down: 0, left: 0 });
    assert.deepEqual(tally([a, p, r], 'Store'), { a: 0, p: 1, r: 0 });
  });

  it("routing: 'any' sends every call to the configured node and asks for no table", async () => {
    const [a, b] = [await fake('a'), await fake('b')];
    a.status = () => statusOf(5, [{ id: 'b', address: b.address }], [{ space: 'notes', primary: 'b' }]);
    const c = client({ nodes: [a.address], routing: 'any' });
    await c.query(recall('notes'));
    await c.query({ kind: 'consolidate', space: 'notes' });
    await c.store('notes', { memories: [] });
    assert.deepEqual([tally([a, b]), tally([a, b], 'Store'), a.count('Status')], [{ a: 2, b: 0 }, { a: 1, b: 0 }, 0]);
  });

  it('a table that cannot be learnt never fails a query: a failing Status, or one that never answers, leaves the query to the configured node', async () => {
    const [failing, silent] = [await fake('failing'), await fake('silent')];
    failing.status = () => {
      throw new Error('no table here');
    };
    const c = client({ nodes: [failing.address] });
    for (let i = 0; i < 3; i++) await c.query(recall('notes'));
    // One Status per tableRefreshMs, answered or not.
    assert.deepEqual([failing.count('ExecuteQuery'), failing.count('Status')], [3, 1]);

    silent.hang = true;
    const t = performance.now();
    await client({ nodes: [silent.address] }).query(recall('notes'), {}, { deadlineMs: 1_000 });
    const took = performance.now() - t;
    // The Status had half the call's second; the query the rest.
    assert.ok(took >= 450 && took < 1_000, `took ${took.toFixed(0)} ms`);
    assert.deepEqual([silent.count('Status'), silent.count('ExecuteQuery')], [1, 1]);
  });

  it('a copy holder that fails: the call goes on to the next copy, then to the configured node, and the table is asked for again', async () => {
    const [a, p, r] = [await fake('a'), await fake('p'), await fake('r')];
    a.status = () => statusOf(5, [{ id: 'a', address: a.address }, { id: 'p', address: p.address }, { id: 'r', address: r.address }], [{ space: 'notes', primary: 'p', replicas: ['r'] }]);
    const c = client({ nodes: [a.address] });
    await c.query({ kind: 'consolidate', space: 'notes' });
    assert.deepEqual(tally([a, p, r]), { a: 0, p: 1, r: 0 });
    p.server.forceShutdown();
    await c.query({ kind: 'consolidate', space: 'notes' });
    assert.deepEqual(tally([a, p, r]), { a: 0, p: 1, r: 1 });
    await eventually('the table asked for again after the failure', () => a.count('Status') === 2);
    r.server.forceShutdown();
    await c.query(recall('notes'));
    assert.deepEqual(tally([a, p, r]), { a: 1, p: 1, r: 1 });
  });

  it('TLS options hold for the channels to learnt copy holders', async () => {
    const pki = await TestPki.create();
    try {
      const ca = await pki.ca('routing-ca');
      const files = await pki.leaf(ca, 'node');
      const [caPem, certPem, keyPem] = [await readFile(files.ca), await readFile(files.cert), await readFile(files.key)];
      const tls = () => grpc.ServerCredentials.createSsl(caPem, [{ cert_chain: certPem, private_key: keyPem }], false);
      const [a, b] = [await fake('tls-a', tls()), await fake('tls-b', tls())];
      a.status = () => statusOf(5, [{ id: 'b', address: b.address }], [{ space: 'notes', primary: 'b' }]);
      const c = client({ nodes: [a.address], tls: { ca: caPem } });
      await c.query(recall('notes'));
      await c.query(recall('notes'));
      // A plaintext channel to b would have failed over to a.
      assert.deepEqual(tally([a, b]), { 'tls-a': 0, 'tls-b': 2 });
    } finally {
      await pki.cleanup();
    }
  });

  it('close() closes the channels it opened to copy holders, and a refresh those to members that left the table', async () => {
    const [a, b] = [await fake('a'), await fake('b')];
    const front = await tcpProxy(b.address);
    try {
      const table = (withB: boolean) => statusOf(5, withB ? [{ id: 'b', address: front.address }] : [], withB ? [{ space: 'notes', primary: 'b' }] : []);
      a.status = () => table(true);
      const c = new EngramClient({ nodes: [a.address] });
      await c.query(recall('notes'));
      assert.deepEqual([b.count('ExecuteQuery'), front.open()], [1, 1]);
      c.close();
      await eventually('the channel to b closed by close()', () => front.open() === 0);

      const d = client({ nodes: [a.address] });
      await d.query(recall('notes'));
      assert.deepEqual([b.count('ExecuteQuery'), front.open()], [2, 1]);
      a.status = () => table(false);
      await d.status();
      await eventually('the channel to b closed once b left the table', () => front.open() === 0);
      await d.query(recall('notes'));
      assert.deepEqual([a.count('ExecuteQuery'), b.count('ExecuteQuery')], [1, 2]);
    } finally {
      front.close();
    }
  });
});

describe('EngramClient routing, against servers in this process: a dead copy holder', () => {
  let a: FakeNode | undefined;
  let c: EngramClient | undefined;
  afterEach(() => {
    c?.close();
    a?.server.forceShutdown();
  });

  it('a holder nothing listens on: the query goes to the configured node and the holder is not tried again at once', async () => {
    a = await new FakeNode('a').start();
    const dead = await deadAddress();
    a.status = () => statusOf(5, [{ id: 'gone', address: dead }], [{ space: 'notes', primary: 'gone' }]);
    c = new EngramClient({ nodes: [a.address], tableRefreshMs: 60_000 });
    const t = performance.now();
    for (let i = 0; i < 3; i++) await c.query(recall('notes'));
    assert.equal(a.count('ExecuteQuery'), 3);
    assert.ok(performance.now() - t < 2_000, 'the dead holder held the calls');
    await eventually('the table asked for again', () => a!.count('Status') === 2);
  });
});

const DIM = 8;
/** A partition budget no busy test machine runs out of: these tests count calls, not time. */
const RELAXED = { timeoutMs: 5_000 };

/** Sum over every status code of a node's `engram_rpc_requests_total` for `method`. */
async function served(c: TestCluster, id: string, method: string): Promise<number> {
  const body = await (await fetch(`http://${c.node(id).proc.metricsAddress}/metrics`)).text();
  let n = 0;
  for (const line of body.split('\n')) if (line.startsWith(`engram_rpc_requests_total{method="${method}",`)) n += Number(line.split(' ').pop());
  return n;
}

describe('EngramClient routing, against node processes', () => {
  let cluster: TestCluster;
  /** Configured with n3 alone, which holds no copy of either space. */
  let owner: EngramClient;
  const memories = (space: string) => Array.from({ length: 6 }, (_, i) => ({ id: `${space}-${i}`, embedding: vec(DIM, i + 1), content: `${space} ${i}` }));
  const counts = async (method: string, ids = ['n1', 'n2', 'n3']) => Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await served(cluster, id, method)] as const)));
  const grown = (from: Record<string, number>, to: Record<string, number>) => Object.fromEntries(Object.keys(from).map((id) => [id, to[id]! - from[id]!]));

  before(async () => {
    cluster = await new TestCluster(['--metrics', '127.0.0.1:0']).start(3);
    const via = cluster.node('n1').client;
    // 'solo': its one copy on n2. 'pair': copies on n1 (primary) and n2.
    await via.createSpace('solo', { dimension: DIM, primary: 'n2', copies: 1 });
    await via.createSpace('pair', { dimension: DIM, primary: 'n1', replicas: ['n2'] });
    for (const space of ['solo', 'pair']) await via.store(space, { memories: memories(space), ack: 'all' });
    owner = new EngramClient({ nodes: [cluster.node('n3').proc.grpcAddress], deadlineMs: 10_000 });
  });
  after(async () => {
    owner?.close();
    await cluster?.stop();
  });

  it('after the first query, one-space queries of every kind reach the copy holder directly: no coordinator, no hop', async () => {
    // The first query learns the table (one Status to n3).
    const statusBefore = await served(cluster, 'n3', 'Status');
    await owner.query({ kind: 'recall', space: 'solo', cue: { embedding: Float32Array.from(vec(DIM, 1)) } }, RELAXED);
    assert.equal(await served(cluster, 'n3', 'Status'), statusBefore + 1);

    const [query0, local0] = [await counts('ExecuteQuery'), await counts('ExecuteLocal')];
    const r = await owner.query({ kind: 'recall', space: 'solo', cue: { embedding: Float32Array.from(vec(DIM, 2)) }, limit: 2 }, RELAXED);
    assert.deepEqual([r.memories[0]!.id, r.coverage.partitions[0]!.node, r.coverage.full], ['solo-1', 'n2', true]);
    await owner.query({ kind: 'spread', space: 'solo', seeds: ['solo-0'] }, RELAXED);
    await owner.query({ kind: 'complete', space: 'solo', values: Float32Array.from(vec(DIM, 3)), known: Array.from({ length: DIM }, (_, i) => i < DIM / 2) }, RELAXED);
    await owner.query({ kind: 'imagine', spaces: ['solo'], cue: { text: 'solo' } }, RELAXED);
    await owner.query({ kind: 'consolidate', space: 'solo' }, RELAXED);
    assert.deepEqual(grown(query0, await counts('ExecuteQuery')), { n1: 0, n2: 5, n3: 0 });
    // n2 answered from its own copy: no partition call anywhere.
    assert.deepEqual(grown(local0, await counts('ExecuteLocal')), { n1: 0, n2: 0, n3: 0 });

    // Two copies: the reads are spread over both, and none reaches n3. (A copy may still hedge
    // to the other copy when its own answer is slow, DESIGN §8: partition calls are not counted.)
    for (let i = 0; i < 4; i++) await owner.query({ kind: 'recall', space: 'pair', cue: { embedding: Float32Array.from(vec(DIM, 1)) } }, RELAXED);
    const pair = grown(query0, await counts('ExecuteQuery'));
    assert.deepEqual([pair.n1! + pair.n2! - 5, pair.n3], [4, 0]);
    assert.ok(pair.n1! > 0 && pair.n2! > 5, JSON.stringify(pair));
  });

  it("routing: 'any' sends the same queries to the configured node, which coordinates", async () => {
    const any = new EngramClient({ nodes: [cluster.node('n3').proc.grpcAddress], deadlineMs: 10_000, routing: 'any' });
    try {
      const [query0, local0] = [await counts('ExecuteQuery'), await counts('ExecuteLocal')];
      for (let i = 0; i < 3; i++) await any.query({ kind: 'recall', space: 'solo', cue: { text: 'solo' } }, RELAXED);
      assert.deepEqual(grown(query0, await counts('ExecuteQuery')), { n1: 0, n2: 0, n3: 3 });
      assert.deepEqual(grown(local0, await counts('ExecuteLocal')), { n1: 0, n2: 3, n3: 0 });
    } finally {
      any.close();
    }
  });

  it('the holder killed: a space with another copy is read from it; one without is answered through the configured node', async () => {
    await cluster.node('n2').proc.kill9();
    const [query0, status0] = [await counts('ExecuteQuery', ['n1', 'n3']), await served(cluster, 'n3', 'Status')];
    const cue = { embedding: Float32Array.from(vec(DIM, 1)) };
    for (let i = 0; i < 3; i++) {
      const r = await owner.query({ kind: 'recall', space: 'pair', cue }, RELAXED);
      assert.deepEqual([r.memories[0]!.id, r.coverage.partitions[0]!.node, r.coverage.full], ['pair-0', 'n1', true]);
    }
    assert.deepEqual(grown(query0, await counts('ExecuteQuery', ['n1', 'n3'])), { n1: 3, n3: 0 });

    // 'solo' has no other copy: n3 coordinates and says what failed, with the coverage.
    const err = await owner.query({ kind: 'recall', space: 'solo', cue }, RELAXED).catch((e: unknown) => e);
    assert.ok(err instanceof AllPartitionsFailedError, String(err));
    assert.equal(err.coverage.partitions[0]!.node, 'n2');
    assert.deepEqual(grown(query0, await counts('ExecuteQuery', ['n1', 'n3'])), { n1: 3, n3: 1 });
    // A routing failure had the client ask n3 for the table again.
    await cluster.until('the table asked for again', 5_000, async () => ((await served(cluster, 'n3', 'Status')) > status0 ? true : undefined));
  });
});

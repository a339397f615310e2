/**
 * EngramClient: failover across its nodes, one deadline per call, abort that cancels on the wire,
 * typed errors with their coverage — against gRPC servers in this process (to count calls) and
 * against real node processes, including what a client sees right after a primary is killed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { EngramClient } from '../src/client/engram-client.js';
import {
  AbortError, AllPartitionsFailedError, DeadlineExceededError, EngineClosedError, InsufficientCoverageError, InvalidArgumentError,
  EngramRpcError, NodeUnavailableError, WriteUnavailableError, SpaceNotFoundError,
} from '../src/errors.js';
import { toGrpcError } from '../src/wire/grpc-errors.js';
import { LEAN_CHANNEL_OPTIONS, protos } from '../src/wire/proto.js';
import { TestCluster } from './helpers/cluster.js';
import { NodeFixture, deadAddress, vec, type TestNode } from './helpers/node.js';

const DIM = 8;

/** A public-service server in this process: counts Status calls, answers with `answer()`. */
class FakeNode {
  calls = 0;
  answer: () => unknown = () => ({ nodeId: this.id });
  readonly server = new grpc.Server({ ...LEAN_CHANNEL_OPTIONS });
  address = '';
  constructor(readonly id: string) {}
  async start(): Promise<this> {
    this.server.addService(protos().publicService, {
      Status: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
        this.calls++;
        try {
          callback(null, this.answer());
        } catch (err) {
          callback(toGrpcError(err), null);
        }
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.address = `127.0.0.1:${port}`;
    return this;
  }
}

/** The transport's own words, or an address of a node: what a client must never see. */
const TRANSPORT_TEXT = /ECONNREFUSED|ECONNRESET|No connection established|Last error|\b\d{1,3}(?:\.\d{1,3}){3}:\d+|\[[0-9a-f:]+\]:\d+|localhost:\d+/i;

describe('EngramClient, against servers in this process', () => {
  const fakes: FakeNode[] = [];
  const clients: EngramClient[] = [];
  const fake = async (id: string) => {
    const f = await new FakeNode(id).start();
    fakes.push(f);
    return f;
  };
  const client = (nodes: string[], deadlineMs = 5_000) => {
    const c = new EngramClient({ nodes, deadlineMs });
    clients.push(c);
    return c;
  };
  after(() => {
    for (const c of clients) c.close();
    for (const f of fakes) f.server.forceShutdown();
  });

  it('refuses an empty node list and a bad deadline', () => {
    assert.throws(() => new EngramClient({ nodes: [] }), InvalidArgumentError);
    assert.throws(() => new EngramClient({ nodes: ['127.0.0.1:1', ''] }), { code: 'ERR_INVALID_ARGUMENT', field: 'nodes[1]' });
    assert.throws(() => new EngramClient({ nodes: ['127.0.0.1:1'], deadlineMs: -1 }), { field: 'deadlineMs' });
  });

  it('fails over when the first node is dead, and names every node when none answers', async () => {
    const live = await fake('live');
    const dead = [await deadAddress(), await deadAddress()];
    assert.equal((await client([dead[0]!, live.address]).status()).nodeId, 'live');
    const err = await client(dead).status().catch((e: unknown) => e);
    assert.ok(err instanceof NodeUnavailableError, String(err));
    assert.deepEqual(err.nodes, dead);
    assert.equal(err.grpcStatus, grpc.status.UNAVAILABLE);
    assert.doesNotMatch(err.message, /ECONNREFUSED|Last error/);
  });

  it('fails over on a node that says another may succeed, then starts at the node that answered', async () => {
    const [stopping, live] = [await fake('stopping'), await fake('live')];
    stopping.answer = () => {
      throw new EngineClosedError();
    };
    const c = client([stopping.address, live.address]);
    assert.equal((await c.status()).nodeId, 'live');
    assert.equal((await c.status()).nodeId, 'live');
    assert.deepEqual([stopping.calls, live.calls], [1, 2]);
  });

  it('does not retry an answer that any node would give, and keeps a node\'s typed answer over a dead node', async () => {
    const [first, second] = [await fake('first'), await fake('second')];
    first.answer = () => {
      throw new SpaceNotFoundError('nowhere');
    };
    const err = await client([first.address, second.address]).status().catch((e: unknown) => e);
    assert.ok(err instanceof SpaceNotFoundError);
    assert.equal(err.space, 'nowhere');
    assert.equal(second.calls, 0);

    first.answer = () => {
      throw new WriteUnavailableError('kept', 'leader n1 is unreachable');
    };
    const both = await client([first.address, await deadAddress()]).status().catch((e: unknown) => e);
    assert.ok(both instanceof WriteUnavailableError, String(both));
    assert.deepEqual([both.space, both.reason], ['kept', 'leader n1 is unreachable']);
  });

  it('close() ends a call in flight at once and opens nothing more: no failover to the next node', async () => {
    // Two TCP listeners that accept and never answer: a call to either hangs until cancelled.
    const silent = await Promise.all([0, 1].map(async () => {
      const sockets = new Set<Socket>();
      const server = createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const close = () => {
        for (const socket of sockets) socket.destroy();
        server.close();
      };
      return { close, address: `127.0.0.1:${(server.address() as { port: number }).port}`, connections: () => sockets.size };
    }));
    try {
      const c = new EngramClient({ nodes: silent.map((x) => x.address), deadlineMs: 10_000 });
      const started = performance.now();
      const pending = c.status().catch((e: unknown) => e);
      while (silent[0]!.connections() === 0) await new Promise((r) => setTimeout(r, 5));
      c.close();
      const err = await pending;
      assert.ok(performance.now() - started < 5_000, `the call outlived close() by ${(performance.now() - started).toFixed(0)} ms`);
      assert.ok(err instanceof EngramRpcError, String(err));
      assert.equal(err.status, grpc.status.CANCELLED);
      assert.match(err.message, /client was closed/);
      assert.equal(silent[1]!.connections(), 0, 'the closed client dialled the next node');
      await assert.rejects(c.status(), /client is closed/);
    } finally {
      for (const x of silent) x.close();
    }
  });

  it('rejects a call aborted before it is sent without calling anyone', async () => {
    const f = await fake('untouched');
    const controller = new AbortController();
    controller.abort(new Error('changed my mind'));
    const err = await client([f.address]).status({ signal: controller.signal }).catch((e: unknown) => e);
    assert.ok(err instanceof AbortError);
    assert.equal((err.cause as Error).message, 'changed my mind');
    assert.equal(f.calls, 0);
  });
});

/** The test-only fault switch of a node started with --enable-faults. */
async function setDelay(address: string, delayMs: number): Promise<void> {
  const { InternalClient } = protos();
  const c = new InternalClient(address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
  try {
    await new Promise<void>((resolve, reject) =>
      c.SetFault!({ cutOff: false, delayMs, collectGarbage: false }, { deadline: Date.now() + 5_000 }, (err: Error | null) => (err ? reject(err) : resolve())),
    );
  } finally {
    c.close();
  }
}

async function cancelledQueries(metricsAddress: string): Promise<number> {
  const body = await (await fetch(`http://${metricsAddress}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith('engram_rpc_requests_total{') && l.includes('method="ExecuteQuery"') && l.includes('code="CANCELLED"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('EngramClient, against node processes', () => {
  const fx = new NodeFixture();
  let slow: TestNode;
  before(async () => {
    slow = await fx.start('slow', undefined, { metrics: '127.0.0.1:0', extraArgs: ['--enable-faults'] });
    await slow.client.createSpace('notes', { dimension: DIM });
    await slow.client.store('notes', { memories: [{ id: 'm1', embedding: vec(DIM, 1), content: 'one' }] });
  });
  after(() => fx.cleanup());

  it('fails over to the second node when the first one in the list is dead; the result is typed by the query kind', async () => {
    const gone = await fx.start('gone');
    await gone.proc.stop();
    const client = new EngramClient({ nodes: [gone.proc.grpcAddress, slow.proc.grpcAddress], deadlineMs: 10_000 });
    try {
      const r = await client.query({ kind: 'recall', space: 'notes', cue: { embedding: Float32Array.from(vec(DIM, 1)) }, limit: 1 });
      // No narrowing on `kind` needed: a recall query gives a recall result.
      assert.equal(r.memories[0]!.id, 'm1');
      assert.equal((await client.status()).nodeId, 'slow');
    } finally {
      client.close();
    }
  });

  it('abort cancels the call on the wire: the node counts it cancelled long before its delay ends', async () => {
    const client = new EngramClient({ nodes: [slow.proc.grpcAddress] });
    try {
      // A connected channel, so the call is on the node within the abort's margin below.
      await client.status();
      const before = await cancelledQueries(slow.proc.metricsAddress);
      await setDelay(slow.proc.grpcAddress, 20_000);
      const controller = new AbortController();
      const t = performance.now();
      const call = client.query({ kind: 'recall', space: 'notes', cue: { text: 'one' } }, {}, { signal: controller.signal });
      setTimeout(() => controller.abort(), 200).unref();
      const err = await call.catch((e: unknown) => e);
      assert.ok(err instanceof AbortError, String(err));
      assert.ok(performance.now() - t < 5_000);
      // Without call.cancel() the node would hold the call for the whole 20 s delay.
      const deadline = performance.now() + 10_000;
      while ((await cancelledQueries(slow.proc.metricsAddress)) !== before + 1) {
        assert.ok(performance.now() < deadline, 'the node never saw the call cancelled');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await setDelay(slow.proc.grpcAddress, 0);
      client.close();
    }
  });

  it('a per-call deadline fails the call with DeadlineExceededError when it passes', async () => {
    const client = new EngramClient({ nodes: [slow.proc.grpcAddress] });
    try {
      await setDelay(slow.proc.grpcAddress, 20_000);
      const t = performance.now();
      const err = await client.status({ deadlineMs: 300 }).catch((e: unknown) => e);
      const took = performance.now() - t;
      assert.ok(err instanceof DeadlineExceededError, String(err));
      assert.equal(err.deadlineMs, 300);
      assert.equal(err.grpcStatus, grpc.status.DEADLINE_EXCEEDED);
      assert.ok(took >= 290 && took < 5_000, `took ${took} ms`);
    } finally {
      await setDelay(slow.proc.grpcAddress, 0);
      client.close();
    }
  });
});

describe('what a client sees right after a primary is killed', () => {
  let cluster: TestCluster | undefined;
  after(() => cluster?.stop());

  it('typed errors naming the space and the reason, with their code and coverage; never an address or the transport\'s text', async () => {
    cluster = await new TestCluster().start(3);
    const c = cluster;
    const via = c.node('n3').client;
    const memories = (prefix: string) => Array.from({ length: 5 }, (_, i) => ({ id: `${prefix}-${i}`, embedding: vec(DIM, i + 1), content: `${prefix} ${i}` }));
    await via.createSpace('kept', { dimension: DIM, primary: 'n1', replicas: ['n2'] });
    await via.createSpace('solo', { dimension: DIM, primary: 'n1', copies: 1 });
    await via.createSpace('other', { dimension: DIM, primary: 'n2', copies: 1 });
    // Through n3, which holds no copy: every write is forwarded (n3 has a live channel to n1).
    for (const space of ['kept', 'solo', 'other']) await via.store(space, { memories: memories(space), ack: 'all' });
    const addresses = [...c.nodes.values()].flatMap((n) => [n.proc.grpcAddress, n.proc.gossipAddress]);
    const clean = (text: string) => {
      assert.doesNotMatch(text, TRANSPORT_TEXT);
      for (const a of addresses) assert.ok(!text.includes(a), `${text} names ${a}`);
    };

    await c.node('n1').proc.kill9();
    // 'solo' has its only copy on n1: no leader can take the write. Once n3 sees n1 down it
    // sends nothing there, and says so at the call's deadline: nothing was written. (Right after
    // the kill, a call on the connection n1 dropped could have carried the write: that answer
    // is ERR_WRITE_OUTCOME_UNKNOWN instead: the node cannot tell.)
    await c.until('n3 to see n1 down', c.detectionDeadlineMs(), async () => ((await via.status()).members.find((m) => m.id === 'n1')?.state === 'down' ? true : undefined));
    const write = await via.store('solo', { memories: memories('late') }, { deadlineMs: 1_500 }).catch((e: unknown) => e);
    assert.ok(write instanceof WriteUnavailableError, String(write));
    assert.equal(write.code, 'ERR_WRITE_UNAVAILABLE');
    assert.equal(write.grpcStatus, grpc.status.UNAVAILABLE);
    assert.equal(write.space, 'solo');
    assert.equal(write.reason, 'leader n1 is down');
    assert.match(write.message, /^memory space "solo": no leader took the write \(leader n1 is down\)/);
    clean(write.message);

    const cue = { embedding: Float32Array.from(vec(DIM, 1)) };
    const lost = await via.query({ kind: 'recall', space: 'solo', cue }).catch((e: unknown) => e);
    assert.ok(lost instanceof AllPartitionsFailedError, String(lost));
    assert.equal(lost.code, 'ERR_ALL_PARTITIONS_FAILED');
    assert.deepEqual([lost.coverage.expected, lost.coverage.responding, lost.coverage.partitions[0]!.node], [1, 0, 'n1']);
    assert.match(lost.coverage.partitions[0]!.status, /unavailable|timeout/);
    clean(lost.message);
    for (const p of lost.coverage.partitions) clean(p.reason);

    const strict = await via.query({ kind: 'imagine', spaces: ['solo', 'other'], cue }, { allowPartial: false }).catch((e: unknown) => e);
    assert.ok(strict instanceof InsufficientCoverageError, String(strict));
    assert.deepEqual(strict.missing, ['solo']);
    assert.deepEqual([strict.coverage.expected, strict.coverage.responding], [2, 1]);
    clean(strict.message);
    for (const p of strict.coverage.partitions) clean(p.reason);

    // A client whose first node is the dead one reads the replica through the second.
    const failover = new EngramClient({ nodes: [c.node('n1').proc.grpcAddress, c.node('n2').proc.grpcAddress], deadlineMs: 10_000 });
    try {
      const r = await failover.query({ kind: 'recall', space: 'kept', cue, limit: 5 });
      // The cue is kept-0's own embedding.
      assert.equal(r.memories[0]!.id, 'kept-0');
      assert.deepEqual([r.coverage.full, r.coverage.partitions[0]!.node], [true, 'n2']);
    } finally {
      failover.close();
    }
  });
});

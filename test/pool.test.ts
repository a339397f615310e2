/**
 * ConnectionPool against real grpc-js servers on 127.0.0.1:0. The request's `partition` field
 * picks the server's behaviour per call: "answer", "hang" (never answers; the test aborts it),
 * "unavailable" (the server itself replies UNAVAILABLE); "answer" replies with the caller's peer
 * address so a test can tell connections apart.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { protos } from '../src/wire/proto.js';
import { ConnectionPool } from '../src/pool/connection-pool.js';
import { ConnectionBackoffError, PoolClosedError } from '../src/errors.js';
import type { PoolMetrics } from '../src/pool/pool-metrics.js';
import { AbortError } from '../src/errors.js';

interface Hanging {
  peer: string;
  cancelled: Promise<void>;
}

interface PartitionResult {
  partition: string;
}

class TestServer {
  readonly server = new grpc.Server();
  readonly hanging: Hanging[] = [];
  #waiters: Array<{ n: number; resolve: () => void }> = [];
  port = 0;

  constructor() {
    this.server.addService(protos().internalService, {
      ExecuteLocal: (call: grpc.ServerUnaryCall<{ partition: string }, PartitionResult>, cb: grpc.sendUnaryData<PartitionResult>) => {
        const behaviour = call.request.partition;
        if (behaviour === 'answer') return cb(null, { partition: call.getPeer() });
        if (behaviour === 'unavailable') return cb({ code: grpc.status.UNAVAILABLE, details: 'shutting down' });
        if (behaviour === 'hang') {
          const cancelled = new Promise<void>((resolve) => call.once('cancelled', () => resolve()));
          this.hanging.push({ peer: call.getPeer(), cancelled });
          this.#waiters = this.#waiters.filter((w) => (this.hanging.length >= w.n ? (w.resolve(), false) : true));
          return;
        }
        cb({ code: grpc.status.INVALID_ARGUMENT, details: `unknown behaviour ${behaviour}` });
      },
    });
  }

  /** Resolves once `n` hanging calls have arrived. */
  hangingCalls(n: number): Promise<void> {
    if (this.hanging.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  async start(port = 0): Promise<string> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return `127.0.0.1:${this.port}`;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

const servers: TestServer[] = [];
const pools: ConnectionPool[] = [];
async function server(port = 0): Promise<{ srv: TestServer; address: string }> {
  const srv = new TestServer();
  servers.push(srv);
  return { srv, address: await srv.start(port) };
}
function pool(options?: ConstructorParameters<typeof ConnectionPool>[0]): ConnectionPool {
  const p = new ConnectionPool(options);
  pools.push(p);
  return p;
}
const inSeconds = (s: number): number => Date.now() + s * 1000;
const req = (partition: string): unknown => ({ partition, query: {} });

function countingMetrics(): PoolMetrics & { created: number; reused: number; fresh: number; evicted: number } {
  return {
    created: 0, reused: 0, fresh: 0, evicted: 0,
    connectionCreated() { this.created++; },
    connectionCall(_a, reused) { if (reused) this.reused++; else this.fresh++; },
    connectionEvicted() { this.evicted++; },
  };
}

describe('ConnectionPool', () => {
  after(() => {
    for (const p of pools) p.close();
    for (const s of servers) s.stop();
  });

  it('serves 100 sequential and 100 concurrent calls over one connection', async () => {
    const { address } = await server();
    const metrics = countingMetrics();
    const p = pool({ metrics });
    const peers = new Set<string>();
    for (let i = 0; i < 100; i++) {
      peers.add((await p.unary<PartitionResult>(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) })).partition);
    }
    const concurrent = await Promise.all(Array.from({ length: 100 }, () => p.unary<PartitionResult>(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) })));
    for (const r of concurrent) peers.add(r.partition);

    assert.equal(peers.size, 1, 'the server saw one client connection');
    assert.deepEqual(p.stats(), { connectionsCreated: 1, callsServed: 200, callsOnExistingConnection: 199, evictions: 0, open: 1, inFlight: 0 });
    assert.deepEqual({ ...metrics }, { ...metrics, created: 1, reused: 199, fresh: 1, evicted: 0 });
  });

  it('opens a second connection only when every channel has maxStreamsPerChannel calls in flight', async () => {
    const { srv, address } = await server();
    const p = pool({ maxStreamsPerChannel: 4 });
    const abort = new AbortController();
    const opts = { deadline: inSeconds(30), signal: abort.signal };
    const pending = Array.from({ length: 4 }, () => p.unary(address, 'ExecuteLocal', req('hang'), opts));
    await srv.hangingCalls(4);
    assert.equal(p.stats().open, 1, 'four calls fit one channel');

    pending.push(p.unary(address, 'ExecuteLocal', req('hang'), opts));
    await srv.hangingCalls(5);
    assert.equal(p.stats().open, 2);
    assert.equal(p.stats().connectionsCreated, 2);
    assert.equal(new Set(srv.hanging.map((h) => h.peer)).size, 2, 'the second channel is a second TCP connection');

    // The second channel has room: a sixth call goes there, no third connection.
    const answered = await p.unary<PartitionResult>(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) });
    assert.equal(answered.partition, srv.hanging[4]!.peer);
    assert.equal(p.stats().connectionsCreated, 2);

    abort.abort();
    for (const r of await Promise.allSettled(pending)) assert.ok(r.status === 'rejected' && r.reason instanceof AbortError);
    await Promise.all(srv.hanging.map((h) => h.cancelled));
    assert.equal(p.stats().inFlight, 0);
  });

  it('abort cancels the call on the wire and rejects with AbortError', async () => {
    const { srv, address } = await server();
    const p = pool();
    const abort = new AbortController();
    const call = p.unary(address, 'ExecuteLocal', req('hang'), { deadline: inSeconds(30), signal: abort.signal });
    await srv.hangingCalls(1);
    abort.abort();
    await assert.rejects(call, AbortError);
    await srv.hanging[0]!.cancelled;
    assert.equal(p.stats().evictions, 0);

    // An already aborted signal never reaches the network.
    await assert.rejects(p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5), signal: AbortSignal.abort() }), AbortError);
    assert.equal(p.stats().callsServed, 1);
  });

  it('a passed deadline fails with DEADLINE_EXCEEDED, cancels on the wire, and keeps the connection', async () => {
    const { srv, address } = await server();
    const p = pool();
    await assert.rejects(p.unary(address, 'ExecuteLocal', req('hang'), { deadline: Date.now() + 50 }), { code: grpc.status.DEADLINE_EXCEEDED });
    await srv.hanging[0]!.cancelled;
    await p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) });
    assert.deepEqual({ ...p.stats(), callsServed: 0 }, { connectionsCreated: 1, callsServed: 0, callsOnExistingConnection: 1, evictions: 0, open: 1, inFlight: 0 });
  });

  it('UNAVAILABLE sent by a reachable server keeps the connection and starts no backoff', async () => {
    const { address } = await server();
    const p = pool();
    await assert.rejects(p.unary(address, 'ExecuteLocal', req('unavailable'), { deadline: inSeconds(5) }), { code: grpc.status.UNAVAILABLE, details: 'shutting down' });
    await p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) });
    assert.equal(p.stats().evictions, 0);
    assert.equal(p.stats().connectionsCreated, 1);
  });

  it('evicts after a transport failure, fails fast while backing off (doubling), re-dials after a restart', async () => {
    const { srv, address } = await server();
    let now = 0;
    const metrics = countingMetrics();
    const p = pool({ now: () => now, initialBackoffMs: 100, maxBackoffMs: 150, metrics });
    await p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) });
    srv.stop();

    await assert.rejects(p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) }), { code: grpc.status.UNAVAILABLE });
    assert.equal(p.stats().evictions, 1);
    assert.equal(p.stats().open, 0);
    const served = p.stats().callsServed;
    await assert.rejects(p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) }), (err: unknown) => {
      assert.ok(err instanceof ConnectionBackoffError);
      assert.equal(err.code, 'ERR_CONNECTION_BACKOFF');
      assert.equal(err.retryable, true);
      assert.equal(err.retryInMs, 100);
      return true;
    });
    assert.equal(p.stats().callsServed, served, 'refused without a call');

    now += 100; // backoff over: the pool dials again, is refused, and doubles the wait (capped at 150)
    await assert.rejects(p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) }), { code: grpc.status.UNAVAILABLE });
    await assert.rejects(p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) }), { retryInMs: 150 });
    now += 149;
    await assert.rejects(p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) }), { retryInMs: 1 });

    const { srv: again } = await server(srv.port);
    now += 1;
    await p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) });
    assert.deepEqual(
      { created: p.stats().connectionsCreated, evictions: p.stats().evictions, open: p.stats().open },
      { created: 3, evictions: 2, open: 1 },
    );
    assert.equal(metrics.created, 3);
    assert.equal(metrics.evicted, 2);

    // Success reset the backoff: the next outage waits the initial 100 ms again.
    again.stop();
    await assert.rejects(p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) }), { code: grpc.status.UNAVAILABLE });
    await assert.rejects(p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) }), { retryInMs: 100 });
  });

  it('close() cancels calls in flight, refuses later calls, and leaves no socket or timer behind', { timeout: 10_000 }, async () => {
    const { srv, address } = await server();
    const before = process.getActiveResourcesInfo();
    const p = new ConnectionPool();
    await p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) });
    const hung = p.unary(address, 'ExecuteLocal', req('hang'), { deadline: inSeconds(30) });
    await srv.hangingCalls(1);
    p.close();
    await assert.rejects(hung, PoolClosedError);
    await srv.hanging[0]!.cancelled;
    await assert.rejects(p.unary(address, 'ExecuteLocal', req('answer'), { deadline: inSeconds(5) }), PoolClosedError);
    assert.deepEqual(p.stats(), { connectionsCreated: 1, callsServed: 2, callsOnExistingConnection: 1, evictions: 0, open: 0, inFlight: 0 });

    srv.stop();
    // The client socket closes asynchronously after close(); wait for it by polling the event
    // loop, not a clock: setImmediate turns until the resources match or the test times out.
    const count = (list: string[]): Record<string, number> => list.reduce<Record<string, number>>((m, r) => ((m[r] = (m[r] ?? 0) + 1), m), {});
    const baseline = count(before.filter((r) => r !== 'TCPServerWrap'));
    for (;;) {
      const nowRes = count(process.getActiveResourcesInfo().filter((r) => r !== 'TCPServerWrap'));
      if ((nowRes.TCPSocketWrap ?? 0) <= (baseline.TCPSocketWrap ?? 0) && (nowRes.Timeout ?? 0) <= (baseline.Timeout ?? 0)) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
  });

  it('rejects bad options and unknown methods', async () => {
    assert.throws(() => new ConnectionPool({ maxStreamsPerChannel: 0 }), { code: 'ERR_CONFIG' });
    assert.throws(() => new ConnectionPool({ initialBackoffMs: 200, maxBackoffMs: 100 }), { code: 'ERR_CONFIG' });
    assert.doesNotThrow(() => new ConnectionPool({ initialBackoffMs: 0, maxBackoffMs: 0 }).close());
    const { address } = await server();
    const p = pool();
    await assert.rejects(p.unary(address, 'NoSuchMethod', {}, { deadline: inSeconds(5) }), { code: 'ERR_INVALID_ARGUMENT' });
    assert.equal(p.stats().inFlight, 0);
  });
});

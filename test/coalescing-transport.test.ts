/**
 * The coalescing transport (src/query/coalescing-transport.ts) over a fake unary call: the calls
 * of one turn to one node go as one ExecuteLocalBatch, a lone call as ExecuteLocal, each entry
 * answers or fails on its own, cancellation stays per call, and a node without the batch method
 * gets its calls one by one. The real thing runs in test/cross-spread.test.ts (batches counted in
 * the nodes' metrics).
 */
import { after, before, describe, it } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/engine/engine.js';
import { internalHandlers, type InternalServices } from '../src/node/internal-service.js';
import { LEAN_CHANNEL_OPTIONS, protos } from '../src/wire/proto.js';
import { toGrpcError } from '../src/wire/grpc-errors.js';
import { internalPool, poolTransport } from '../src/embedding/internal-transport.js';
import { remotePartitionClient } from '../src/query/remote-partition-client.js';
import { Deadline } from '../src/query/deadline.js';
import { ReplayGuard } from '../src/security/internal-auth.js';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { AbortError } from '../src/errors.js';
import { coalescingTransport, type InternalUnary } from '../src/query/coalescing-transport.js';
import { remoteFailure } from '../src/query/remote-partition-client.js';
import { PartitionCallError } from '../src/query/partition-client.js';

interface Sent { address: string; method: string; request: any; signal: AbortSignal; deadline: number }

/** A unary call that records what is sent and answers through `answer`. */
function fake(answer: (s: Sent) => Promise<unknown>): { unary: InternalUnary; sent: Sent[] } {
  const sent: Sent[] = [];
  const unary: InternalUnary = (address, method, request, options) => {
    const s = { address, method, request, signal: options.signal, deadline: options.deadline };
    sent.push(s);
    return answer(s);
  };
  return { unary, sent };
}

/** One scatter's key: only calls carrying the same key travel together. */
const KEY = {};
const opts = (signal = new AbortController().signal, deadline = Date.now() + 1_000, batch: object | undefined = KEY) => ({ deadline, signal, ...(batch ? { batch } : {}) });
const echoBatch = async (s: Sent) => s.method === 'ExecuteLocalBatch'
  ? { results: s.request.entries.map((e: any) => ({ outcome: 'result', result: { partition: e.request.partition } })) }
  : { partition: s.request.partition };

describe('coalescing transport', () => {
  it('sends the calls of one turn to one node as one batch, and a lone call as ExecuteLocal', async () => {
    const { unary, sent } = fake(echoBatch);
    const t = coalescingTransport(unary);
    const answers = await Promise.all([
      t.executeLocal('a:1', { partition: 'p1' }, { ...opts(), headers: { traceparent: 'x' } }),
      t.executeLocal('a:1', { partition: 'p2' }, opts()),
      t.executeLocal('b:1', { partition: 'p3' }, opts()),
    ]);
    assert.deepEqual(answers, [{ partition: 'p1' }, { partition: 'p2' }, { partition: 'p3' }]);
    assert.deepEqual(sent.map((s) => [s.address, s.method]), [['a:1', 'ExecuteLocalBatch'], ['b:1', 'ExecuteLocal']]);
    // Each entry keeps its own trace context.
    assert.deepEqual(sent[0]!.request.entries.map((e: any) => e.trace), [{ traceparent: 'x' }, {}]);
  });

  it('only calls with the same key travel together; a call without one leaves at once, alone', async () => {
    const { unary, sent } = fake(echoBatch);
    const t = coalescingTransport(unary);
    const other = {};
    const keyless = t.executeLocal('a:1', { partition: 'p0' }, { deadline: Date.now() + 1_000, signal: new AbortController().signal });
    // Sent before the turn ends: no wait for a batch.
    assert.deepEqual(sent.map((s) => s.method), ['ExecuteLocal']);
    await Promise.all([
      keyless,
      t.executeLocal('a:1', { partition: 'p1' }, opts()),
      t.executeLocal('a:1', { partition: 'p2' }, opts(undefined, undefined, other)),
      t.executeLocal('a:1', { partition: 'p3' }, opts()),
      t.executeLocal('a:1', { partition: 'p4' }, opts(undefined, undefined, other)),
    ]);
    assert.deepEqual(sent.slice(1).map((s) => s.request.entries.map((e: any) => e.request.partition)), [['p1', 'p3'], ['p2', 'p4']]);
  });

  it('an entry that failed fails alone, as the failed call it stands for', async () => {
    const fields = Buffer.from(JSON.stringify({ field: 'hop' }));
    const { unary } = fake(async (s) => ({
      results: [
        { outcome: 'result', result: { partition: 'ok' } },
        { outcome: 'error', error: { code: grpc.status.UNAVAILABLE, details: 'space p2 is being copied here', engramCode: 'ERR_SPACE_NOT_READY' } },
        { outcome: 'error', error: { code: grpc.status.INVALID_ARGUMENT, details: 'hop: must be an integer', engramCode: 'ERR_INVALID_ARGUMENT', fields } },
      ].slice(0, s.request.entries.length),
    }));
    const t = coalescingTransport(unary);
    const [a, b, c] = await Promise.allSettled([
      t.executeLocal('a:1', { partition: 'ok' }, opts()),
      t.executeLocal('a:1', { partition: 'p2' }, opts()),
      t.executeLocal('a:1', { partition: 'p3' }, opts()),
    ]);
    assert.deepEqual(a, { status: 'fulfilled', value: { partition: 'ok' } });
    assert.equal(b!.status, 'rejected');
    const unavailable = remoteFailure((b as PromiseRejectedResult).reason, 'n1');
    assert.ok(unavailable instanceof PartitionCallError);
    assert.deepEqual([unavailable.status, unavailable.reason, unavailable.retry], ['unavailable', 'space p2 is being copied here', true]);
    const invalid = (c as PromiseRejectedResult).reason as grpc.ServiceError;
    assert.equal(invalid.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(invalid.metadata.get('engram-code')[0], 'ERR_INVALID_ARGUMENT');
    assert.deepEqual(invalid.metadata.get('engram-fields-bin')[0], fields);
  });

  it('a cancelled call is rejected at once; the batch is cancelled on the wire once every call in it was', async () => {
    let release!: (v: unknown) => void;
    const { unary, sent } = fake((s) => new Promise((resolve, reject) => {
      release = resolve;
      s.signal.addEventListener('abort', () => reject(new AbortError()), { once: true });
    }));
    const t = coalescingTransport(unary);
    const c1 = new AbortController();
    const c2 = new AbortController();
    const p1 = t.executeLocal('a:1', { partition: 'p1' }, opts(c1.signal, Date.now() + 500));
    const p2 = t.executeLocal('a:1', { partition: 'p2' }, opts(c2.signal, Date.now() + 900));
    await new Promise((r) => setImmediate(r));
    assert.equal(sent.length, 1);
    // The batch waits as long as its latest call would.
    assert.ok(sent[0]!.deadline >= Date.now() + 800);
    c1.abort();
    await assert.rejects(p1, AbortError);
    assert.equal(sent[0]!.signal.aborted, false, 'p2 still waits: the batch goes on');
    c2.abort();
    await assert.rejects(p2, AbortError);
    assert.equal(sent[0]!.signal.aborted, true);
    release({ results: [] });

    // Cancelled before the batch left: not sent at all.
    const c3 = new AbortController();
    const p3 = t.executeLocal('a:1', { partition: 'p3' }, opts(c3.signal));
    c3.abort();
    await assert.rejects(p3, AbortError);
    await new Promise((r) => setImmediate(r));
    assert.equal(sent.length, 1);
  });

  it('a node without the batch method gets the calls one by one, for a while', async () => {
    const { unary, sent } = fake(async (s) => {
      if (s.method === 'ExecuteLocalBatch') throw Object.assign(new Error('12 UNIMPLEMENTED'), { code: grpc.status.UNIMPLEMENTED, details: '', metadata: new grpc.Metadata() });
      return { partition: s.request.partition };
    });
    let clock = 0;
    const t = coalescingTransport(unary, () => clock);
    const both = () => Promise.all([t.executeLocal('e:1', { partition: 'p1' }, opts()), t.executeLocal('e:1', { partition: 'p2' }, opts())]);
    assert.deepEqual(await both(), [{ partition: 'p1' }, { partition: 'p2' }]);
    assert.deepEqual(sent.map((s) => s.method), ['ExecuteLocalBatch', 'ExecuteLocal', 'ExecuteLocal']);
    assert.deepEqual(await both(), [{ partition: 'p1' }, { partition: 'p2' }]);
    assert.deepEqual(sent.slice(3).map((s) => s.method), ['ExecuteLocal', 'ExecuteLocal']);
    // It may have been upgraded since: after a while, batches are tried again.
    clock += 60_001;
    await both();
    assert.equal(sent[5]!.method, 'ExecuteLocalBatch');
  });

  it('a failed batch call fails every call in it with the call\'s error', async () => {
    const down = Object.assign(new Error('14 UNAVAILABLE'), { code: grpc.status.UNAVAILABLE, details: 'connect ECONNREFUSED', metadata: new grpc.Metadata() });
    const { unary } = fake(async () => {
      throw down;
    });
    const t = coalescingTransport(unary);
    const r = await Promise.allSettled([t.executeLocal('a:1', {}, opts()), t.executeLocal('a:1', {}, opts())]);
    assert.deepEqual(r.map((x) => (x as PromiseRejectedResult).reason), [down, down]);
  });
});

describe('a node\'s batch handler, over gRPC', () => {
  let dir: string;
  let engine: Engine;
  let server: grpc.Server;
  let pool: ReturnType<typeof internalPool>;
  let address: string;
  const CLUSTER_KEY = 'batch-test-key';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'engram-batch-'));
    engine = await Engine.open(dir);
    for (const s of ['slow-space', 'fast-space']) {
      await engine.createSpace(s, 4);
      await engine.store(s, { memories: [{ id: 'x', embedding: [1, 0, 0, 0] }] });
    }
    // A node whose read barrier of slow-space never completes before the call's deadline.
    const node = {
      engine,
      load: () => 1,
      logger: { info() {}, warn() {}, error() {} },
      metrics: { internalAuthFailures: { inc() {} }, clusterRefused: { inc() {} } },
      cluster: () => ({
        clusterId: '',
        checkReadable() {},
        copyState: () => undefined,
        readBarrier: (space: string, deadline?: number) => new Promise<void>((resolve) => setTimeout(resolve, space === 'slow-space' ? Math.max(0, (deadline ?? Date.now()) - Date.now()) : 0)),
      }),
      writer: () => undefined,
      auth: { tls: false, clusterKey: CLUSTER_KEY, replay: new ReplayGuard() },
      faults: { enabled: false, callers: new Set<string>(), state: { delayMs: 0, delayProbability: 0, delaySpreadRound: 0 } },
    } as unknown as InternalServices;
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [name, h] of Object.entries(internalHandlers(node))) {
      impl[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => void h(call.request, call).then((r) => cb(null, r), (e: unknown) => cb(toGrpcError(e), null));
    }
    server = new grpc.Server(LEAN_CHANNEL_OPTIONS);
    server.addService(protos().internalService, impl);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    address = `127.0.0.1:${port}`;
    pool = internalPool({ nodeId: 'coordinator', clusterKey: CLUSTER_KEY });
  });
  after(async () => {
    pool.close();
    server.forceShutdown();
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers the entries done by the deadline; the one stuck fails DEADLINE_EXCEEDED, alone', async () => {
    const client = remotePartitionClient(poolTransport(pool));
    const copy = { node: 'n', address, role: 'primary' as const, local: false };
    const batch = {};
    const deadline = new Deadline(800);
    const started = performance.now();
    const ask = (space: string, consistency: 'any' | 'leader') => client.call(copy, { query: { kind: 'spread', space, seeds: ['x'] }, partition: space, consistency }, { deadline, signal: new AbortController().signal, batch })
      .then((reply) => ({ space, ok: reply.answer.kind, ms: performance.now() - started }), (err: unknown) => ({ space, err, ms: performance.now() - started }));
    const [slow, fast] = await Promise.all([ask('slow-space', 'leader'), ask('fast-space', 'any')]);
    assert.equal((fast as { ok?: string }).ok, 'spread', JSON.stringify(fast));
    const failure = (slow as { err?: unknown }).err;
    assert.ok(failure instanceof PartitionCallError, String(failure));
    assert.equal(failure.status, 'timeout');
    // Both came back with the batch's answer, before the deadline (a margin before it).
    assert.ok(fast.ms < 800 && slow.ms < 800, `fast ${fast.ms.toFixed(0)} ms, slow ${slow.ms.toFixed(0)} ms`);
  });
});

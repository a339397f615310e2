/**
 * OpenTelemetry traces of a query (DESIGN §9): a coordinator and a serving node run in this
 * process and share one in-memory exporter, so one trace shows both sides; the serving node's
 * `engram.partition.execute` span is parented through the `traceparent` the coordinator sent on
 * its signed ExecuteLocal call. Queries work the same with no SDK registered. Hedges and failed
 * partitions are checked on the scatter with a fake client.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import * as grpc from '@grpc/grpc-js';
import { EngramClient } from '../src/client/engram-client.js';
import { optionsToWire, queryToWire } from '../src/query/to-wire.js';
import { protos } from '../src/wire/proto.js';
import { bytesOf, encodeStrings } from '../src/wire/columns.js';
import { StaticClusterView, type Member } from '../src/cluster/cluster-view.js';
import { EngramNode } from '../src/node/engram-node.js';
import { DistributedExecutor } from '../src/query/distributed-executor.js';
import type { Hedger } from '../src/query/hedging.js';
import { PartitionCallError, type PartitionClient } from '../src/query/partition-client.js';
import { QueryPlanner } from '../src/query/planner.js';
import { ScatterExecutor } from '../src/query/scatter.js';
import type { PartitionAnswer } from '../src/query/types.js';
import type { Logger } from '../src/util/logger.js';
import { vec } from './helpers/node.js';

const DIM = 8;
const quiet: Logger = { info() {}, warn() {}, error() {} };
const exporter = new InMemorySpanExporter();

let registered = false;
/** Registers the SDK for the rest of the process: an in-memory exporter, async context, W3C headers. */
function registerSdk(): void {
  if (registered) return;
  registered = true;
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  assert.ok(trace.setGlobalTracerProvider(provider));
  assert.ok(context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()));
  assert.ok(propagation.setGlobalPropagator(new W3CTraceContextPropagator()));
}

const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
/** ExecuteLocalBatch calls a node answered. */
async function batchCalls(node: EngramNode): Promise<number> {
  const counter = (await node.metrics.registry.getSingleMetric('engram_rpc_requests_total')!.get()).values;
  return counter.filter((v) => v.labels.method === 'ExecuteLocalBatch' && v.labels.code === 'OK').reduce((n, v) => n + v.value, 0);
}
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

const imagine = { kind: 'imagine' as const, spaces: ['here', 'there'], cue: { text: 'a lighthouse' }, limit: 5 };

describe('traces of a query across two nodes', () => {
  let root: string;
  let n1: EngramNode;
  let n2: EngramNode;
  let client: EngramClient;

  before(async () => {
    root = await mkdtemp(join(os.tmpdir(), 'engram-tracing-'));
    const common = { clusterKey: 'tracing-test-key', metaVoters: 1, replicationFactor: 1, rebalance: false };
    n1 = await EngramNode.start({ id: 'n1', listen: { host: '127.0.0.1', port: 0 }, dataDir: join(root, 'n1'), logger: quiet, cluster: { ...common, gossipAddress: '127.0.0.1:0', seeds: [] } });
    n2 = await EngramNode.start({ id: 'n2', listen: { host: '127.0.0.1', port: 0 }, dataDir: join(root, 'n2'), logger: quiet, cluster: { ...common, gossipAddress: '127.0.0.1:0', seeds: [n1.cluster!.gossipAddress] } });
    // `here` on the coordinator (n1), `there` only on the serving node (n2): n1 must ask n2.
    await n1.cluster!.createSpace('here', DIM, { primary: 'n1', replicas: [] });
    await n1.cluster!.createSpace('there', DIM, { primary: 'n2', replicas: [] });
    // A second space only on n2: a query of both asks n2 once (ExecuteLocalBatch).
    await n1.cluster!.createSpace('there-too', DIM, { primary: 'n2', replicas: [] });
    const writer = new EngramClient({ nodes: [n1.grpcAddress, n2.grpcAddress], deadlineMs: 20_000 });
    for (const space of ['here', 'there', 'there-too']) {
      await writer.store(space, { memories: [0, 1, 2].map((i) => ({ id: `${space}-${i}`, embedding: vec(DIM, i + 1), content: `${space} ${i}` })) });
    }
    writer.close();
    // Only n1: a query of two spaces is coordinated there.
    client = new EngramClient({ nodes: [n1.grpcAddress], deadlineMs: 20_000, routing: 'any' });
  });

  after(async () => {
    client?.close();
    await n2?.stop();
    await n1?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('answers queries with no OpenTelemetry SDK registered', async () => {
    assert.equal(trace.getTracer('probe').startSpan('probe').isRecording(), false, 'no SDK yet');
    const r = await client.query(imagine);
    assert.equal(r.coverage.full, true);
    assert.deepEqual(r.coverage.partitions.map((p) => [p.partition, p.node, p.status]), [['here', 'n1', 'ok'], ['there', 'n2', 'ok']]);
  });

  it("puts the serving node's execute span under the coordinator's partition span, in one trace", async () => {
    registerSdk();
    exporter.reset();
    const r = await client.query(imagine);
    assert.equal(r.coverage.full, true);
    const spans = exporter.getFinishedSpans();

    const [query, ...moreQueries] = named(spans, 'engram.query');
    assert.ok(query, `no engram.query span in ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(moreQueries.length, 0);
    const traceId = query.spanContext().traceId;
    assert.ok(spans.every((s) => s.spanContext().traceId === traceId), 'every span of the query is in its trace');
    assert.equal(parentOf(query), undefined, 'the query span is the root (the client sent no traceparent)');
    assert.deepEqual(
      [query.attributes['engram.query.kind'], query.attributes['engram.query.strategy'], query.attributes['engram.query.partitions'], query.attributes['engram.query.result'], query.attributes['engram.query.penalty']],
      ['imagine', 'multi', 2, 'full', 0],
    );
    assert.equal(typeof query.attributes['engram.query.timeout_ms'], 'number');

    for (const name of ['engram.plan', 'engram.gather']) {
      const [child] = named(spans, name);
      assert.ok(child, `no ${name} span`);
      assert.equal(parentOf(child), query.spanContext().spanId, `${name} is a child of engram.query`);
    }

    const partitions = named(spans, 'engram.partition');
    assert.deepEqual(partitions.map((s) => s.attributes['engram.partition']).sort(), ['here', 'there'], 'one partition span per call');
    for (const p of partitions) {
      assert.equal(parentOf(p), query.spanContext().spanId, 'a partition span is a child of engram.query');
      assert.equal(p.attributes['engram.status'], 'ok');
      assert.equal(p.attributes['engram.copy.role'], 'primary');
      assert.equal(p.attributes['engram.hedge'], false);
    }
    const remote = partitions.find((s) => s.attributes['engram.partition'] === 'there')!;
    assert.deepEqual([remote.attributes['engram.node'], remote.attributes['engram.copy.local'], remote.kind], ['n2', false, SpanKind.CLIENT]);
    const local = partitions.find((s) => s.attributes['engram.partition'] === 'here')!;
    assert.deepEqual([local.attributes['engram.node'], local.attributes['engram.copy.local'], local.kind], ['n1', true, SpanKind.INTERNAL]);

    // The serving side: only the remote call reached another node's ExecuteLocal.
    const executes = named(spans, 'engram.partition.execute');
    assert.equal(executes.length, 1, 'the local partition ran in-process, the remote one on n2');
    const execute = executes[0]!;
    assert.equal(execute.kind, SpanKind.SERVER);
    assert.equal(execute.attributes['engram.partition'], 'there');
    assert.equal(execute.attributes['engram.status'], 'ok');
    assert.equal(parentOf(execute), remote.spanContext().spanId, "n2's execute span is a child of n1's partition span");
    assert.equal(execute.parentSpanContext?.isRemote, true, 'its parent came over the wire');
    assert.ok(execute.startTime[0] * 1e9 + execute.startTime[1] >= remote.startTime[0] * 1e9 + remote.startTime[1], 'the execution starts after the call');
  });

  it('a Spread round\'s two partitions on one node go as one batch call; each execute span is under its own partition span', async () => {
    registerSdk();
    exporter.reset();
    const batchesBefore = await batchCalls(n2);
    // Both spaces on n2: round 1 (the seeds) and round 2 (their frontier) each ask n2 once.
    const r = await client.query({ kind: 'spread', spaces: ['there', 'there-too'], seeds: ['there/there-0', 'there-too/there-too-0'], hops: 1 });
    assert.equal(r.coverage.full, true);
    assert.equal(await batchCalls(n2), batchesBefore + 2);
    const spans = exporter.getFinishedSpans();
    const partitions = named(spans, 'engram.partition');
    const executes = named(spans, 'engram.partition.execute');
    assert.equal(partitions.length, 4);
    assert.equal(executes.length, 4);
    for (const execute of executes) {
      const call = partitions.find((s) => s.spanContext().spanId === parentOf(execute));
      assert.ok(call, 'every execute span has a partition span as its parent');
      assert.equal(call.attributes['engram.partition'], execute.attributes['engram.partition'], 'and it is its own partition\'s');
    }
  });

  it("continues a client's trace: traceparent on ExecuteQuery, or an embedding caller's active span", async () => {
    exporter.reset();
    const outer = trace.getTracer('test').startSpan('client-operation');
    const md = new grpc.Metadata();
    propagation.inject(trace.setSpan(context.active(), outer), md, { set: (carrier, key, value) => carrier.set(key, value) });
    const { PublicClient } = protos();
    const raw = new PublicClient(n1.grpcAddress, grpc.credentials.createInsecure());
    try {
      await new Promise((resolve, reject) => raw.ExecuteQuery!({ query: queryToWire(imagine), options: optionsToWire({}) }, md, { deadline: Date.now() + 20_000 }, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res))));
    } finally {
      raw.close();
    }
    const inProcess = await context.with(trace.setSpan(context.active(), outer), () => n1.executor.execute(imagine));
    outer.end();
    assert.equal(inProcess.coverage.full, true);
    const queries = named(exporter.getFinishedSpans(), 'engram.query');
    assert.equal(queries.length, 2);
    for (const q of queries) {
      assert.equal(q.spanContext().traceId, outer.spanContext().traceId);
      assert.equal(parentOf(q), outer.spanContext().spanId);
    }
    assert.deepEqual(queries.map((q) => q.parentSpanContext?.isRemote === true), [true, false], 'the first came over the wire, the second in-process');
  });
});

describe('traces of hedges and failures (scatter with a fake client)', () => {
  // The scatter's timers are unref()'d (they must not keep a node's process alive), and a fake
  // client holds no socket: without a handle of its own the test's event loop could run empty
  // while a hedge timer is still due, and the test end as "still pending".
  let keepAlive: ReturnType<typeof setInterval>;
  before(() => {
    keepAlive = setInterval(() => {}, 1_000);
  });
  after(() => clearInterval(keepAlive));
  const member = (id: string): Member => ({ id, grpcAddress: `${id}:1`, gossipAddress: `${id}:2`, state: 'alive', incarnation: 1 });
  const view = new StaticClusterView({
    self: 'coordinator',
    members: ['coordinator', 'n1', 'r1', 'n2'].map(member),
    assignments: [
      { space: 'space1', primary: 'n1', replicas: ['r1'], dimension: 2, version: 1 },
      { space: 'space2', primary: 'n2', replicas: [], dimension: 2, version: 2 },
    ],
  });
  const answer: PartitionAnswer = { kind: 'consolidate', consolidate: { memories: 0, patternsCreated: 0, patternsTotal: 0, memoriesInPatterns: 0, durationMs: 0, stoppedEarly: false } };

  it('shows a hedge as two partition spans, the loser cancelled', async () => {
    registerSdk();
    // n1 waits until cancelled; r1 answers at once. The hedger hedges every first call at once.
    const client: PartitionClient = {
      call: (copy, _request, { signal }) =>
        copy.node === 'r1' ? Promise.resolve({ answer }) : new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    };
    const hedger = { record() {}, earn() {}, delayMs: () => 0, take: () => true } as unknown as Hedger;
    const scatter = new ScatterExecutor({ client, hedger });
    const plan = new QueryPlanner(view).plan({ kind: 'recall', space: 'space1', cue: { text: 'x' } }, {});
    exporter.reset();
    const parent = trace.getTracer('test').startSpan('parent');
    const [outcome] = await scatter.scatter(plan, { query: { kind: 'recall', space: 'space1', cue: { text: 'x' } }, trace: trace.setSpan(context.active(), parent) });
    parent.end();
    assert.deepEqual([outcome!.node, outcome!.hedged], ['r1', true]);
    const calls = named(exporter.getFinishedSpans(), 'engram.partition');
    const byNode = Object.fromEntries(calls.map((s) => [s.attributes['engram.node'], s]));
    assert.equal(calls.length, 2);
    assert.deepEqual([byNode.n1!.attributes['engram.status'], byNode.n1!.attributes['engram.hedge'], byNode.n1!.attributes['engram.hedged']], ['cancelled', false, true]);
    assert.deepEqual([byNode.r1!.attributes['engram.status'], byNode.r1!.attributes['engram.hedge']], ['ok', true]);
    assert.notEqual(byNode.n1!.status.code, SpanStatusCode.ERROR, 'a cancelled hedge loser is not an error');
    for (const s of calls) assert.equal(parentOf(s), parent.spanContext().spanId);
  });

  it('records a failed partition as an ERROR span with the exception; the query is partial', async () => {
    registerSdk();
    const ids = encodeStrings(['i0']);
    const text = encodeStrings(['imagined']);
    const imagined: PartitionAnswer = {
      kind: 'imagine',
      columns: { ids: ids.blob, idOffsets: ids.offsets, confidence: bytesOf(Float32Array.from([0.9])), sources: ids.blob, sourceOffsets: ids.offsets, content: text.blob, contentOffsets: text.offsets, embeddings: bytesOf(new Float32Array(2)), dimension: 2 },
    };
    const client: PartitionClient = {
      call: (copy) => (copy.node === 'n2' ? Promise.reject(new PartitionCallError('unavailable', 'n2 is down', true)) : Promise.resolve({ answer: imagined })),
    };
    const executor = new DistributedExecutor({ view, client, hedging: { enabled: false } });
    exporter.reset();
    const r = await executor.execute({ kind: 'imagine', spaces: ['space1', 'space2'], cue: { text: 'x' } });
    assert.equal(r.coverage.full, false);
    const spans = exporter.getFinishedSpans();
    const failed = named(spans, 'engram.partition').filter((s) => s.attributes['engram.partition'] === 'space2');
    assert.equal(failed.length, 1, 'space2 has one copy: one call');
    const call = failed[0]!;
    assert.deepEqual([call.attributes['engram.status'], call.status.code, call.status.message], ['unavailable', SpanStatusCode.ERROR, 'n2 is down']);
    assert.ok(call.events.some((e) => e.name === 'exception' && e.attributes?.['exception.message'] === 'n2 is down'), 'the exception is an event of the span');
    const [query] = named(spans, 'engram.query');
    assert.equal(query!.attributes['engram.query.result'], 'partial');
    assert.ok((query!.attributes['engram.query.penalty'] as number) > 0, 'a partial answer carries its penalty');
    assert.notEqual(query!.status.code, SpanStatusCode.ERROR, 'a partial answer is an answer');
  });
});

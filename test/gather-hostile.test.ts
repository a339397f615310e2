/**
 * Hostile partition answers through the real distributed path: two grpc-js servers on
 * 127.0.0.1 implement `EngramInternal.ExecuteLocal`, one honest, one answering with whatever the
 * case sets (bad column lengths, NaN, confidences outside [0, 1], offsets out of range, bad
 * UTF-8, more rows than asked, the wrong kind, missing columns or no result). A
 * `DistributedExecutor` over a `StaticClusterView` scatters to both over the wire: the hostile
 * partition is counted failed with a reason, the others merge under the penalty, and no
 * exception escapes other than the typed all-failed error carrying that coverage.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { StaticClusterView, type Member } from '../src/cluster/cluster-view.js';
import { AllPartitionsFailedError } from '../src/errors.js';
import { DistributedExecutor } from '../src/query/distributed-executor.js';
import type { PartitionTransport } from '../src/query/remote-partition-client.js';
import type { PartitionAnswer, Query } from '../src/query/types.js';
import type { QueryResult } from '../src/query/result.js';
import { bytesOf, encodeStrings } from '../src/wire/columns.js';
import { partitionToWire } from '../src/wire/partition-codec.js';
import { protos } from '../src/wire/proto.js';

type Wire = Record<string, any>;
type Answerer = (request: { query: Wire; partition: string }) => Wire;

const f32 = (xs: number[]) => Buffer.from(bytesOf(Float32Array.from(xs)));
const u32 = (xs: number[]) => Buffer.from(bytesOf(Uint32Array.from(xs)));
const DIM = 2;

function imagineAnswer(space: string, confidences: number[]): PartitionAnswer {
  const ids = encodeStrings(confidences.map((_, i) => `imagined:${space}:m${i}`));
  const src = encodeStrings(confidences.map((_, i) => `m${i}`));
  const content = encodeStrings(confidences.map((_, i) => `imagined from m${i}`));
  return {
    kind: 'imagine',
    columns: {
      ids: ids.blob, idOffsets: ids.offsets, confidence: bytesOf(Float32Array.from(confidences)),
      sources: src.blob, sourceOffsets: src.offsets, content: content.blob, contentOffsets: content.offsets,
      embeddings: bytesOf(new Float32Array(confidences.length * DIM).fill(0.5)), dimension: DIM,
    },
  };
}

function recallAnswer(space: string, lowers: number[]): PartitionAnswer {
  const ids = encodeStrings(lowers.map((_, i) => `${space}-m${i}`));
  const content = encodeStrings(lowers.map(() => 'c'));
  return {
    kind: 'recall',
    columns: {
      ids: ids.blob, idOffsets: ids.offsets, lower: bytesOf(Float32Array.from(lowers)), upper: bytesOf(Float32Array.from(lowers.map((x) => Math.min(1, x + 0.1)))),
      similarity: bytesOf(new Float32Array(lowers.length).fill(0.5)), content: content.blob, contentOffsets: content.offsets,
      createdAt: bytesOf(new Float64Array(lowers.length).fill(1_700_000_000_000)),
    },
  };
}

function spreadAnswer(space: string, activations: number[]): PartitionAnswer {
  const ids = encodeStrings(activations.map((_, i) => `${space}-m${i}`));
  return { kind: 'spread', columns: { ids: ids.blob, idOffsets: ids.offsets, activation: bytesOf(Float32Array.from(activations)) } };
}

const completeAnswer = (confidence = 0.8): PartitionAnswer => ({ kind: 'complete', complete: { embedding: Float32Array.from([0.1, 0.2]), confidence, sources: ['m0'] } });
const consolidateAnswer = (): PartitionAnswer => ({ kind: 'consolidate', consolidate: { memories: 4, patternsCreated: 1, patternsTotal: 1, memoriesInPatterns: 2, durationMs: 0.5, stoppedEarly: false } });

/** What an honest node answers: per query kind, fixed rows named after the partition. */
function honest({ query, partition }: { query: Wire; partition: string }): Wire {
  switch (query.kind) {
    case 'recall': return partitionToWire(partition, recallAnswer(partition, [0.9, 0.7]));
    case 'spread': return partitionToWire(partition, spreadAnswer(partition, [1, 0.4]));
    case 'complete': return partitionToWire(partition, completeAnswer());
    case 'consolidate': return partitionToWire(partition, consolidateAnswer());
    default: return partitionToWire(partition, imagineAnswer(partition, [0.8, 0.6]));
  }
}

/** A fake node: ExecuteLocal answers through `answer`; the other internal methods are unimplemented. */
async function fakeNode(answer: () => Answerer): Promise<{ server: grpc.Server; address: string }> {
  const server = new grpc.Server();
  server.addService(protos().internalService, {
    ExecuteLocal: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => {
      try {
        cb(null, answer()(call.request));
      } catch (err) {
        cb({ code: grpc.status.INTERNAL, details: String(err) }, null);
      }
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { server, address: `127.0.0.1:${port}` };
}

/** The internal call over real gRPC; the scatter's abort cancels it. */
function grpcTransport(clients: Map<string, grpc.Client>): PartitionTransport {
  const { InternalClient } = protos();
  return {
    executeLocal(address, request, { deadline, signal }) {
      let client = clients.get(address);
      if (!client) clients.set(address, (client = new InternalClient(address, grpc.credentials.createInsecure())));
      return new Promise((resolve, reject) => {
        const call = (client as any).ExecuteLocal(request, { deadline }, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res)));
        signal.addEventListener('abort', () => call.cancel(), { once: true });
      });
    },
  };
}

/** The hostile node's answer for one case: a valid answer of the query's kind, then `mutate`. */
interface Case { name: string; reason: RegExp; mutate: (wire: Wire, partition: string) => Wire }

const imagineCases: Case[] = [
  { name: 'a confidence column one row short', reason: /confidence column has 4 bytes/, mutate: (w) => ((w.imagine.confidence = f32([0.5])), w) },
  { name: 'a NaN confidence', reason: /confidence\[0\]=NaN/, mutate: (w) => ((w.imagine.confidence = f32([Number.NaN, 0.5])), w) },
  { name: 'a negative confidence', reason: /confidence\[1\]=-0\.25/, mutate: (w) => ((w.imagine.confidence = f32([0.5, -0.25])), w) },
  { name: 'a confidence above 1', reason: /confidence\[0\]=1\.5/, mutate: (w) => ((w.imagine.confidence = f32([1.5, 0.5])), w) },
  { name: 'id offsets past the blob', reason: /BAD_OFFSETS/, mutate: (w) => ((w.imagine.idOffsets = u32([0, 3, 99_999])), w) },
  { name: 'decreasing id offsets', reason: /BAD_OFFSETS/, mutate: (w) => ((w.imagine.idOffsets = u32([0, 20, 5])), w) },
  { name: 'offsets that are not whole u32s', reason: /BAD_OFFSETS/, mutate: (w) => ((w.imagine.idOffsets = Buffer.alloc(7)), w) },
  { name: 'ids that are not UTF-8', reason: /UTF-8/, mutate: (w) => ((w.imagine.ids = Buffer.alloc(w.imagine.ids.length, 0xff)), w) },
  { name: 'content that is not UTF-8', reason: /content is not UTF-8/, mutate: (w) => ((w.imagine.content = Buffer.alloc(w.imagine.content.length, 0xc3)), w) },
  { name: 'more rows than the limit asked for', reason: /TOO_LARGE/, mutate: (_w, p) => partitionToWire(p, imagineAnswer(p, [0.9, 0.8, 0.7, 0.6, 0.5])) },
  { name: 'a repeated id', reason: /DUPLICATE_ID/, mutate: (w) => ((w.imagine.ids = Buffer.from('abcabc')), (w.imagine.idOffsets = u32([0, 3, 6])), w) },
  { name: 'embeddings of the wrong size', reason: /embeddings do not hold 2 × 2/, mutate: (w) => ((w.imagine.embeddings = f32([0.1, 0.2, 0.3])), w) },
  { name: 'a NaN in the embeddings', reason: /embeddings\[1\]=NaN/, mutate: (w) => ((w.imagine.embeddings = f32([0.1, Number.NaN, 0.3, 0.4])), w) },
  { name: 'missing columns (only ids and offsets)', reason: /offsets do not describe 2 rows/, mutate: (w) => ({ partition: w.partition, imagine: { ids: w.imagine.ids, idOffsets: w.imagine.idOffsets } }) },
  { name: 'the wrong kind of result', reason: /a spread result to a imagine query/, mutate: (_w, p) => partitionToWire(p, spreadAnswer(p, [0.5])) },
  { name: 'no result at all', reason: /no result set/, mutate: (w) => ({ partition: w.partition }) },
];

describe('hostile partition answers reaching the gather', () => {
  const clients = new Map<string, grpc.Client>();
  let honestNode: { server: grpc.Server; address: string };
  let hostileNode: { server: grpc.Server; address: string };
  let hostileAnswer: Answerer = honest;
  let executor: DistributedExecutor;

  before(async () => {
    honestNode = await fakeNode(() => honest);
    hostileNode = await fakeNode(() => hostileAnswer);
    const member = (id: string, grpcAddress: string): Member => ({ id, grpcAddress, gossipAddress: '127.0.0.1:9', state: 'alive', incarnation: 1 });
    const view = new StaticClusterView({
      self: 'coord',
      members: [member('coord', '127.0.0.1:1'), member('honest', honestNode.address), member('hostile', hostileNode.address)],
      assignments: [
        { space: 'bad', primary: 'hostile', replicas: [], dimension: DIM, version: 1 },
        { space: 'good-a', primary: 'honest', replicas: [], dimension: DIM, version: 1 },
        { space: 'good-b', primary: 'honest', replicas: [], dimension: DIM, version: 1 },
        // Hostile primary, honest replica: a copy that cannot be decoded is tried past.
        { space: 'fallback', primary: 'hostile', replicas: ['honest'], dimension: DIM, version: 1 },
      ],
    });
    executor = new DistributedExecutor({ view, transport: grpcTransport(clients), local: () => Promise.reject(new Error('no local partitions')) });
  });
  after(async () => {
    for (const c of clients.values()) c.close();
    await Promise.all([honestNode, hostileNode].map((n) => new Promise<void>((resolve) => n.server.tryShutdown(() => resolve()))));
  });

  const imagine: Query = { kind: 'imagine', spaces: ['bad', 'good-a', 'good-b'], cue: { text: 'x' }, limit: 2 };

  it('merges an honest imagine over three partitions with no penalty (the baseline)', async () => {
    hostileAnswer = honest;
    const r = await executor.execute(imagine, { timeoutMs: 5_000 });
    assert.ok(r.kind === 'imagine');
    assert.equal(r.coverage.responding, 3);
    assert.equal(r.coverage.penalty, 0);
    assert.equal(r.items.length, 6);
  });

  for (const c of imagineCases) {
    it(`counts a partition that answers with ${c.name} as failed, and merges the others`, async () => {
      hostileAnswer = (req) => c.mutate(honest(req), req.partition);
      const r: QueryResult = await executor.execute(imagine, { timeoutMs: 5_000 });
      assert.ok(r.kind === 'imagine');
      const cov = r.coverage;
      assert.deepEqual([cov.expected, cov.responding, cov.failed, cov.timedOut, cov.full], [3, 2, 1, 0, false]);
      const bad = cov.partitions.find((p) => p.partition === 'bad')!;
      assert.equal(bad.status, 'error');
      assert.match(bad.reason, /malformed answer/);
      assert.match(bad.reason, c.reason);
      assert.ok(cov.partitions.filter((p) => p.partition !== 'bad').every((p) => p.status === 'ok'));
      assert.ok(Math.abs(cov.penalty - 1 / 3) < 1e-6, `penalty ${cov.penalty}`);
      // The honest rows, each weakened by the penalty; nothing of the hostile partition.
      assert.deepEqual(r.items.map((i) => i.space).sort(), ['good-a', 'good-a', 'good-b', 'good-b']);
      for (const item of r.items) {
        const honestConfidence = item.id.endsWith(':m0') ? 0.8 : 0.6;
        assert.ok(Math.abs(item.confidence - Math.fround(honestConfidence) * (1 - cov.penalty)) < 1e-6, `${item.id}: ${item.confidence}`);
      }
    });
  }

  /** A single-partition query against the hostile node: the typed all-failed error, with the reason. */
  async function failsWith(query: Query, answer: Answerer, reason: RegExp) {
    hostileAnswer = answer;
    const err = await executor.execute(query, { timeoutMs: 5_000 }).then(
      (r) => assert.fail(`expected a failure, got ${JSON.stringify(r)}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AllPartitionsFailedError, `expected AllPartitionsFailedError, got ${String(err)}`);
    const p = err.coverage.partitions[0]!;
    assert.equal(p.status, 'error');
    assert.match(p.reason, reason);
    assert.equal(err.coverage.failed, 1);
  }

  const recall: Query = { kind: 'recall', space: 'bad', cue: { text: 'x' }, limit: 2 };
  const spread: Query = { kind: 'spread', space: 'bad', seeds: ['m0'] };
  const complete: Query = { kind: 'complete', space: 'bad', values: Float32Array.from([0.1, 0]), known: [true, false] };
  const consolidate: Query = { kind: 'consolidate', space: 'bad' };
  const set = (mutate: (w: Wire) => void): Answerer => (req) => {
    const w = honest(req);
    mutate(w);
    return w;
  };

  it('fails a recall partition with bad confidences, similarities, timestamps, rows or kind', async () => {
    await failsWith(recall, set((w) => (w.recall.lower = f32([Number.NaN, 0.5]))), /lower\[0\]=NaN/);
    await failsWith(recall, set((w) => (w.recall.upper = f32([0.2, 0.8]))), /lower\[0\]=0\.89\d* > upper\[0\]/);
    await failsWith(recall, set((w) => (w.recall.similarity = f32([Number.NaN, 0.5]))), /similarity\[0\]=NaN/);
    await failsWith(recall, set((w) => (w.recall.similarity = f32([0.5]))), /similarity has 4 bytes for 2 rows/);
    await failsWith(recall, set((w) => (w.recall.createdAt = Buffer.alloc(0))), /createdAt has 0 bytes/);
    await failsWith(recall, (req) => partitionToWire(req.partition, recallAnswer(req.partition, [0.9, 0.8, 0.7])), /TOO_LARGE/);
    await failsWith(recall, (req) => partitionToWire(req.partition, spreadAnswer(req.partition, [0.5])), /a spread result to a recall query/);
  });

  it('fails a spread partition with activations outside [0, 1] or the wrong kind', async () => {
    await failsWith(spread, set((w) => (w.spread.activation = f32([1.5, 0.2]))), /activation\[0\]=1\.5/);
    await failsWith(spread, set((w) => (w.spread.activation = f32([Number.POSITIVE_INFINITY, 0.2]))), /activation\[0\]=Infinity/);
    await failsWith(spread, (req) => partitionToWire(req.partition, recallAnswer(req.partition, [0.5])), /a recall result to a spread query/);
  });

  it('fails a complete or consolidate partition with the wrong kind or impossible values', async () => {
    await failsWith(complete, (req) => partitionToWire(req.partition, consolidateAnswer()), /a consolidate result to a complete query/);
    await failsWith(complete, (req) => partitionToWire(req.partition, completeAnswer(Number.NaN)), /confidence NaN/);
    await failsWith(complete, (req) => partitionToWire(req.partition, completeAnswer(7)), /confidence 7/);
    await failsWith(complete, set((w) => (w.complete.embedding = [0.1, 0.2, 0.3])), /embedding has 3 values, the pattern 2/);
    await failsWith(consolidate, (req) => partitionToWire(req.partition, completeAnswer()), /a complete result to a consolidate query/);
    await failsWith(consolidate, set((w) => (w.consolidate.durationMs = Number.NaN)), /durationMs=NaN/);
  });

  it('tries the next copy when one answers with no result at all', async () => {
    hostileAnswer = (req) => ({ partition: req.partition });
    const r = await executor.execute({ ...recall, space: 'fallback' }, { timeoutMs: 5_000 });
    assert.ok(r.kind === 'recall');
    assert.equal(r.coverage.partitions[0]!.status, 'ok');
    assert.equal(r.coverage.partitions[0]!.node, 'honest');
    assert.deepEqual(r.memories.map((m) => m.id), ['fallback-m0', 'fallback-m1']);
  });
});

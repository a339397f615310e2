/**
 * A Spread over several spaces when partitions fail, through the distributed executor with a
 * PartitionClient that answers from a real engine and fails where told: a partition lost in a
 * later round, a malformed answer, every asked partition failing or timing out, a cancel between
 * rounds. The same on real node processes (a killed copy, a hang in round 2) is
 * test/cross-spread.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/engine/engine.js';
import { AbortError, AllPartitionsFailedError, QueryDeadlineExceededError } from '../src/errors.js';
import { StaticClusterView, type Member } from '../src/cluster/cluster-view.js';
import { DistributedExecutor } from '../src/query/distributed-executor.js';
import { answerFromEngine } from '../src/query/engine-partition.js';
import { PartitionCallError, type PartitionClient, type PartitionRequest } from '../src/query/partition-client.js';
import type { QueryResult, ResultOf } from '../src/query/result.js';
import type { SpreadRoundQuery } from '../src/query/types.js';
import { assertSameActivations, byKey, GRAPH_DIM, unionSpread, type SpreadCase } from './helpers/spread-graphs.js';

const A = 'fail-a';
const B = 'fail-b';
const C = 'fail-c';
/** a0 → a1 (in a), a0 → b0, b0 → c0 (across), c0 → c1 (in c). */
const CASE: SpreadCase = {
  spaces: [A, B, C],
  graphs: [
    { space: A, memories: ['a0', 'a1'], associations: [{ from: 'a0', to: 'a1', weight: 1 }, { from: 'a0', toSpace: B, to: 'b0', weight: 1 }] },
    { space: B, memories: ['b0'], associations: [{ from: 'b0', toSpace: C, to: 'c0', weight: 1 }] },
    { space: C, memories: ['c0', 'c1'], associations: [{ from: 'c0', to: 'c1', weight: 1 }] },
  ],
  seeds: [`${A}/a0`],
  hops: 3,
  decay: 0.5,
  threshold: 0.02,
};
const query = { kind: 'spread' as const, spaces: CASE.spaces, seeds: CASE.seeds, hops: CASE.hops, decay: CASE.decay, threshold: CASE.threshold };

function spreadOf(r: QueryResult): ResultOf<'spread'> {
  assert.equal(r.kind, 'spread');
  return r as ResultOf<'spread'>;
}

describe('Spread over several spaces: failures', () => {
  let dir: string;
  let engine: Engine;
  const member = (id: string): Member => ({ id, grpcAddress: `${id}:1`, gossipAddress: `${id}:2`, state: 'alive', incarnation: 1 });
  // Each space on a node of its own; the coordinator holds none.
  const view = new StaticClusterView({
    self: 'coordinator',
    members: ['coordinator', 'na', 'nb', 'nc'].map(member),
    assignments: [A, B, C].map((space, i) => ({ space, primary: ['na', 'nb', 'nc'][i]!, replicas: [], dimension: GRAPH_DIM, version: i + 1 })),
  });
  /** Answers from the engine; `fault` may fail or rewrite a round first. */
  const client = (fault: (r: SpreadRoundQuery, signal: AbortSignal) => Promise<'answer' | 'duplicate'> | 'answer' | 'duplicate'): PartitionClient => ({
    async call(_copy, request: PartitionRequest, { signal }) {
      const q = request.query as SpreadRoundQuery;
      const what = await fault(q, signal);
      const answer = await answerFromEngine(engine, q, request.partition);
      if (what === 'duplicate' && answer.kind === 'spread-round' && answer.round.leaving.length > 0) {
        answer.round.leaving.push(answer.round.leaving[0]!);
      }
      return { answer };
    },
  });
  const executor = (c: PartitionClient) => new DistributedExecutor({ view, client: c, hedging: { enabled: false } });
  // The scatter's timers are unref()'d and a fake client holds no socket: the test keeps its own
  // event loop alive while a round waits for its deadline.
  let keepAlive: ReturnType<typeof setInterval>;

  before(async () => {
    keepAlive = setInterval(() => {}, 1_000);
    dir = await mkdtemp(join(tmpdir(), 'engram-cross-spread-failures-'));
    engine = await Engine.open(dir);
    for (const g of CASE.graphs) {
      await engine.createSpace(g.space, GRAPH_DIM);
      await engine.store(g.space, { memories: g.memories.map((id) => ({ id, embedding: [1, 0, 0, 0] })), associations: g.associations });
    }
  });
  after(async () => {
    clearInterval(keepAlive);
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('all up: the union graph', async () => {
    const r = spreadOf(await executor(client(() => 'answer')).execute(query));
    assertSameActivations(byKey(r.activations), await unionSpread(CASE), 'all up');
    // a: the seeds, then a0 → a1, then a1 (no edge); b: the pulse to b0, then b0; c: c0, then c0 → c1.
    assert.deepEqual(r.coverage.partitions.map((p) => [p.partition, p.rounds]), [[A, 3], [B, 2], [C, 2]]);
  });

  it('a partition lost in a later round is missing from the answer; pulses it sent before stay', async () => {
    // b answers hop 1 (b0, and the pulse to c0), then fails in hop 2.
    const r = spreadOf(await executor(client((q) => {
      if (q.space === B && q.hop === 2) throw new PartitionCallError('unavailable', 'nb went away', true);
      return 'answer';
    })).execute(query));
    const cov = new Map(r.coverage.partitions.map((p) => [p.partition, p]));
    assert.deepEqual([cov.get(B)!.status, cov.get(B)!.rounds, cov.get(B)!.reason], ['unavailable', 1, 'nb: nb went away']);
    assert.equal(r.coverage.penalty, Math.fround(1 / 3));
    const got = byKey(r.activations);
    assert.ok(!got.has(`${B}/b0`), 'b is missing from the answer');
    // c0 was reached from b's hop-1 pulse: that pulse had already moved on.
    assert.ok(got.has(`${C}/c0`) && got.has(`${C}/c1`));
  });

  it('a malformed answer (a target space named twice) fails that partition, not the query', async () => {
    const r = spreadOf(await executor(client((q) => (q.space === B && q.hop === 1 ? 'duplicate' : 'answer'))).execute(query));
    const cov = new Map(r.coverage.partitions.map((p) => [p.partition, p]));
    assert.deepEqual([cov.get(B)!.status, cov.get(B)!.reason], ['error', 'malformed answer: its leaving pulses name a space twice']);
    // Nothing of b's answer was used: c, reached only through b, was never asked.
    assert.deepEqual([cov.get(C)!.status, cov.get(C)!.rounds], ['ok', 0]);
    assert.deepEqual([...byKey(r.activations).keys()].sort(), [`${A}/a0`, `${A}/a1`]);
    assert.equal(r.coverage.penalty, Math.fround(1 / 3));
  });

  it('every asked partition failed: AllPartitionsFailedError, never an empty success', async () => {
    const err = await executor(client((q) => {
      if (q.space === A) throw new PartitionCallError('unavailable', 'na is down', true);
      return 'answer';
    })).execute(query).catch((e: unknown) => e);
    assert.ok(err instanceof AllPartitionsFailedError, String(err));
    assert.deepEqual(err.coverage.partitions.map((p) => [p.partition, p.status, p.rounds]), [[A, 'unavailable', 0], [B, 'ok', 0], [C, 'ok', 0]]);
  });

  it('every asked partition timed out: QueryDeadlineExceededError', async () => {
    const never = (_q: SpreadRoundQuery, signal: AbortSignal) => new Promise<'answer'>((_, reject) => signal.addEventListener('abort', () => reject(new AbortError()), { once: true }));
    const err = await executor(client(never)).execute(query, { timeoutMs: 150 }).catch((e: unknown) => e);
    assert.ok(err instanceof QueryDeadlineExceededError, String(err));
    assert.equal(err.coverage.partitions[0]!.status, 'timeout');
  });

  it('a cancel between rounds stops the Spread with AbortError and cancels the round in flight', async () => {
    const controller = new AbortController();
    let cancelledOnTheWire = false;
    const err = await executor(client((q, signal) => {
      if (q.hop < 1) return 'answer';
      // Round 2 hangs; the caller cancels while it does.
      setTimeout(() => controller.abort(), 20);
      return new Promise<'answer'>((_, reject) => signal.addEventListener('abort', () => {
        cancelledOnTheWire = true;
        reject(new AbortError());
      }, { once: true }));
    })).execute(query, { timeoutMs: 5_000 }, { signal: controller.signal }).catch((e: unknown) => e);
    assert.ok(err instanceof AbortError, String(err));
    assert.ok(cancelledOnTheWire, 'the call of the round in flight saw its signal abort');
  });
});

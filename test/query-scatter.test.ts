/**
 * Scatter + gather with a fake transport and mocked timers: deadlines, cancellation, copy
 * fallback, late duplicates dropped, coverage and penalty, typed failures.
 */
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { StaticClusterView, type Member } from '../src/cluster/cluster-view.js';
import { AbortError, AllPartitionsFailedError, InsufficientCoverageError, QueryDeadlineExceededError } from '../src/errors.js';
import { Deadline } from '../src/query/deadline.js';
import type { HedgeOptions } from '../src/query/hedging.js';
import { DistributedExecutor } from '../src/query/distributed-executor.js';
import type { PartitionTransport } from '../src/query/remote-partition-client.js';
import type { PartitionAnswer } from '../src/query/types.js';
import { bytesOf, encodeStrings } from '../src/wire/columns.js';
import { partitionToWire } from '../src/wire/partition-codec.js';

const member = (id: string): Member => ({ id, grpcAddress: `${id}:1`, gossipAddress: `${id}:2`, state: 'alive', incarnation: 1 });

function imagineAnswer(space: string, confidences: number[]): PartitionAnswer {
  const ids = encodeStrings(confidences.map((_, i) => `${space}-item${i}`));
  const src = encodeStrings(confidences.map((_, i) => `${space}-m${i}`));
  const content = encodeStrings(confidences.map(() => 'imagined'));
  return {
    kind: 'imagine',
    columns: {
      ids: ids.blob, idOffsets: ids.offsets, confidence: bytesOf(Float32Array.from(confidences)),
      sources: src.blob, sourceOffsets: src.offsets, content: content.blob, contentOffsets: content.offsets,
      embeddings: bytesOf(new Float32Array(confidences.length * 2)), dimension: 2,
    },
  };
}

function recallAnswer(rows: [string, number, number][]): PartitionAnswer {
  const ids = encodeStrings(rows.map((r) => r[0]));
  const content = encodeStrings(rows.map(() => ''));
  return {
    kind: 'recall',
    columns: {
      ids: ids.blob, idOffsets: ids.offsets, lower: bytesOf(Float32Array.from(rows.map((r) => r[1]))), upper: bytesOf(Float32Array.from(rows.map((r) => r[2]))),
      similarity: bytesOf(new Float32Array(rows.length).fill(0.5)), content: content.blob, contentOffsets: content.offsets, createdAt: bytesOf(new Float64Array(rows.length)),
    },
  };
}

const wire = (space: string, a: PartitionAnswer) => ({ ...partitionToWire(space, a), result: a.kind });

type Behaviour = { delayMs: number; answer?: PartitionAnswer; fail?: number; ignoreAbort?: boolean };

/** A transport whose answers follow per-node behaviours, on (mocked) timers; it records aborts. */
function fakeTransport(behaviour: Record<string, Behaviour>) {
  const aborted: string[] = [];
  const calls: string[] = [];
  const transport: PartitionTransport = {
    executeLocal(address, request, { signal }) {
      const node = address.split(':')[0]!;
      calls.push(node);
      const b = behaviour[node]!;
      const space = (request as { partition: string }).partition;
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => (b.fail !== undefined ? reject(Object.assign(new Error(`fail ${b.fail}`), { code: b.fail })) : resolve(wire(space, b.answer!))), b.delayMs);
        signal.addEventListener('abort', () => {
          aborted.push(node);
          if (!b.ignoreAbort) {
            clearTimeout(t);
            reject(signal.reason);
          }
        });
      });
    },
  };
  return { transport, aborted, calls };
}

function executor(transport: PartitionTransport, opts: { partitioned?: boolean; onLate?: (p: string, n: string) => void; clock?: () => number; ranking?: boolean; hedging?: HedgeOptions; onHedge?: (e: 'sent' | 'won') => void } = {}) {
  const view = new StaticClusterView({
    self: 'coordinator',
    members: ['coordinator', 'n1', 'n2', 'n3', 'r1'].map(member),
    assignments: [
      { space: 'space1', primary: 'n1', replicas: ['r1'], dimension: 2, version: 1 },
      { space: 'space2', primary: 'n2', replicas: [], dimension: 2, version: 2 },
      { space: 'space3', primary: 'n3', replicas: [], dimension: 2, version: 3 },
    ],
    partitioned: opts.partitioned ?? false,
  });
  return new DistributedExecutor({
    view,
    transport,
    local: () => Promise.reject(new Error('nothing is local here')),
    // Deadlines read the mocked clock, so only mocked time moves them.
    clock: opts.clock ?? (() => Date.now()),
    ...(opts.onLate ? { onLateAnswer: opts.onLate } : {}),
    ...(opts.ranking !== undefined ? { ranking: opts.ranking } : {}),
    ...(opts.hedging ? { hedging: opts.hedging } : {}),
    ...(opts.onHedge ? { observer: { scatter() {}, partition() {}, query() {}, hedge: opts.onHedge } } : {}),
  });
}

const imagine = { kind: 'imagine' as const, spaces: ['space1', 'space2', 'space3'], cue: { text: 'x' }, limit: 5 };

describe('scatter and gather', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'] }));
  afterEach(() => mock.timers.reset());

  /** Runs `p` while advancing mocked time in steps until it settles. */
  async function drive<T>(p: Promise<T>, stepMs = 10, maxMs = 20_000): Promise<T> {
    let settled: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    // Handled at once, so a rejection is not reported as unhandled while time is driven.
    void p.then(
      (value) => (settled = { ok: true, value }),
      (error: unknown) => (settled = { ok: false, error }),
    );
    for (let t = 0; t < maxMs && !settled; t += stepMs) {
      await new Promise((r) => setImmediate(r));
      mock.timers.tick(stepMs);
    }
    await new Promise((r) => setImmediate(r));
    const s = settled as { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    if (!s) throw new Error(`did not settle within ${maxMs} ms of mocked time`);
    if (!s.ok) throw s.error;
    return s.value;
  }

  it('all three partitions answer: full coverage, penalty 0, items from all three', async () => {
    const { transport } = fakeTransport({ n1: { delayMs: 5, answer: imagineAnswer('space1', [0.5]) }, n2: { delayMs: 10, answer: imagineAnswer('space2', [0.6]) }, n3: { delayMs: 1, answer: imagineAnswer('space3', [0.4]) } });
    const r = await drive(executor(transport).execute(imagine));
    assert.ok(r.kind === 'imagine');
    assert.deepEqual(r.items.map((i) => i.space), ['space2', 'space1', 'space3']);
    assert.deepEqual([r.coverage.expected, r.coverage.responding, r.coverage.failed, r.coverage.penalty, r.coverage.full], [3, 3, 0, 0, true]);
  });

  it('a partition past its deadline: timeout status, penalty 1/3, the call cancelled', async () => {
    const { transport, aborted } = fakeTransport({ n1: { delayMs: 10_000, answer: imagineAnswer('space1', [0.9]) }, n2: { delayMs: 5, answer: imagineAnswer('space2', [0.8]) }, n3: { delayMs: 5, answer: imagineAnswer('space3', [0.6]) } });
    const r = await drive(executor(transport).execute({ ...imagine, spaces: ['space1', 'space2', 'space3'] }, { timeoutMs: 200 }));
    assert.ok(r.kind === 'imagine');
    const p1 = r.coverage.partitions[0]!;
    assert.deepEqual([p1.partition, p1.node, p1.status], ['space1', 'n1', 'timeout']);
    assert.deepEqual([r.coverage.responding, r.coverage.failed, r.coverage.timedOut], [2, 1, 1]);
    assert.equal(r.coverage.penalty, Math.fround(1 / 3));
    assert.deepEqual(aborted, ['n1']);
    // 0.8 × (1 − 1/3), in f32.
    assert.equal(r.items[0]!.confidence, Math.fround(Math.fround(0.8) * Math.fround(1 - Math.fround(1 / 3))));
  });

  it('never declares a timeout before the deadline, even when the timer fires early', async () => {
    // The deadline clock runs 3% slower than the timers, so every timer fires early by its clock.
    const { transport } = fakeTransport({ n1: { delayMs: 10_000, answer: recallAnswer([]) }, r1: { delayMs: 10_000, answer: recallAnswer([]) } });
    const err = await drive(executor(transport, { clock: () => Date.now() * 0.97 }).execute({ kind: 'recall', space: 'space1', cue: { text: 'x' } }, { timeoutMs: 100 }), 1).catch((e: unknown) => e);
    assert.ok(err instanceof QueryDeadlineExceededError);
    assert.ok(err.coverage.partitions[0]!.latencyMs >= 100, `timed out after ${err.coverage.partitions[0]!.latencyMs} ms`);
  });

  it('adds 0.1 while partitioned, capped at 0.5', async () => {
    const { transport } = fakeTransport({ n1: { delayMs: 5, fail: status.UNAVAILABLE }, r1: { delayMs: 5, fail: status.UNAVAILABLE }, n2: { delayMs: 5, answer: imagineAnswer('space2', [0.8]) }, n3: { delayMs: 5, answer: imagineAnswer('space3', [0.6]) } });
    const r = await drive(executor(transport, { partitioned: true }).execute(imagine));
    assert.equal(r.coverage.penalty, Math.fround(1 / 3 + 0.1));
    assert.equal(r.coverage.partitioned, true);
    const q = await drive(executor(fakeTransport({ n1: { delayMs: 5, fail: status.UNAVAILABLE }, r1: { delayMs: 5, fail: status.UNAVAILABLE }, n2: { delayMs: 5, fail: status.INTERNAL }, n3: { delayMs: 5, answer: imagineAnswer('space3', [0.6]) } }).transport, { partitioned: true }).execute(imagine));
    assert.equal(q.coverage.penalty, 0.5);
  });

  it('falls back to the replica within the same deadline when the primary is unavailable', async () => {
    const { transport, calls } = fakeTransport({ n1: { delayMs: 5, fail: status.UNAVAILABLE }, r1: { delayMs: 5, answer: recallAnswer([['a', 0.5, 0.6]]) } });
    const r = await drive(executor(transport).execute({ kind: 'recall', space: 'space1', cue: { text: 'x' }, limit: 3 }));
    assert.deepEqual(calls, ['n1', 'r1']);
    assert.deepEqual([r.coverage.partitions[0]!.node, r.coverage.partitions[0]!.role, r.coverage.penalty], ['r1', 'replica', 0]);
  });

  it('drops a copy that answers after its partition settled, never merging it', async () => {
    const late: string[] = [];
    const { transport } = fakeTransport({ n1: { delayMs: 300, ignoreAbort: true, answer: recallAnswer([['late', 0.99, 1]]) }, n2: { delayMs: 5, answer: imagineAnswer('space2', [0.7]) }, n3: { delayMs: 5, answer: imagineAnswer('space3', [0.7]) } });
    const ex = executor(transport, { onLate: (p, n) => late.push(`${p}@${n}`) });
    const r = await drive(ex.execute(imagine, { timeoutMs: 100 }));
    assert.equal(r.coverage.partitions[0]!.status, 'timeout');
    assert.ok(r.kind === 'imagine' && r.items.every((i) => i.space !== 'space1'));
    await drive(new Promise((resolve) => setTimeout(resolve, 500)));
    assert.deepEqual(late, ['space1@n1']);
  });

  it('nothing answered: AllPartitionsFailedError carrying the coverage', async () => {
    const { transport } = fakeTransport({ n1: { delayMs: 1, fail: status.INTERNAL }, r1: { delayMs: 1, fail: status.UNAVAILABLE } });
    const err = await drive(executor(transport).execute({ kind: 'recall', space: 'space1', cue: { text: 'x' } }, { timeoutMs: 50 })).then(
      () => assert.fail('expected AllPartitionsFailedError'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AllPartitionsFailedError);
    assert.deepEqual([err.coverage.expected, err.coverage.responding, err.coverage.partitions[0]!.status], [1, 0, 'unavailable']);
  });

  it('nothing answered by the deadline: QueryDeadlineExceededError (DEADLINE_EXCEEDED) carrying the coverage', async () => {
    const { transport } = fakeTransport({ n1: { delayMs: 10_000, answer: recallAnswer([]) }, r1: { delayMs: 10_000, answer: recallAnswer([]) } });
    const err = await drive(executor(transport).execute({ kind: 'recall', space: 'space1', cue: { text: 'x' } }, { timeoutMs: 50 })).catch((e: unknown) => e);
    assert.ok(err instanceof QueryDeadlineExceededError);
    assert.equal(err.grpcStatus, status.DEADLINE_EXCEEDED);
    assert.deepEqual([err.coverage.expected, err.coverage.responding, err.coverage.timedOut, err.deadlineMs], [1, 0, 1, 50]);
  });

  it('a caller deadline shorter than timeoutMs bounds the whole query', async () => {
    const { transport, aborted } = fakeTransport({ n1: { delayMs: 10_000, answer: recallAnswer([]) }, r1: { delayMs: 10_000, answer: recallAnswer([]) }, n2: { delayMs: 10_000, answer: imagineAnswer('space2', [0.5]) }, n3: { delayMs: 5, answer: imagineAnswer('space3', [0.5]) } });
    const started = Date.now();
    const r = await drive(executor(transport).execute(imagine, { timeoutMs: 5_000 }, { deadline: new Deadline(120, Date.now()) }), 5);
    assert.ok(Date.now() - started <= 130, `answered after ${Date.now() - started} ms of a 120 ms caller deadline`);
    assert.deepEqual(r.coverage.partitions.map((p) => p.status), ['timeout', 'timeout', 'ok']);
    assert.deepEqual(aborted.sort(), ['n1', 'n2']);
  });

  it('a caller that cancels cancels every partition call and gets AbortError', async () => {
    const { transport, aborted, calls } = fakeTransport({ n1: { delayMs: 10_000, answer: recallAnswer([]) }, n2: { delayMs: 10_000, answer: imagineAnswer('space2', [0.5]) }, n3: { delayMs: 10_000, answer: imagineAnswer('space3', [0.5]) } });
    const controller = new AbortController();
    const p = executor(transport).execute(imagine, {}, { signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    const err = await drive(p, 5).catch((e: unknown) => e);
    assert.ok(err instanceof AbortError, String(err));
    assert.deepEqual(calls.sort(), ['n1', 'n2', 'n3']);
    assert.deepEqual(aborted.sort(), ['n1', 'n2', 'n3']);
  });

  it('hedges a slow first copy after the recent p95: the second copy answers, the first call is cancelled', async () => {
    const b: Record<string, Behaviour> = { n1: { delayMs: 5, answer: recallAnswer([['from-n1', 0.5, 0.6]]) }, r1: { delayMs: 5, answer: recallAnswer([['from-r1', 0.5, 0.6]]) } };
    const { transport, aborted, calls } = fakeTransport(b);
    const hedges: string[] = [];
    // The floor keeps the hedge delay (max(p95, 8 ms)) above the 5 ms answers of the warm-up.
    const ex = executor(transport, { ranking: false, hedging: { minDelayMs: 8 }, onHedge: (e) => hedges.push(e) });
    const q = { kind: 'recall' as const, space: 'space1', cue: { text: 'x' }, limit: 3 };
    for (let i = 0; i < 40; i++) await drive(ex.execute(q), 1);
    assert.deepEqual([calls.length, hedges.length], [40, 0], 'no hedge while every first copy answers in time');
    b.n1!.delayMs = 10_000;
    const started = Date.now();
    const r = await drive(ex.execute(q, { timeoutMs: 1_000 }), 1);
    assert.equal(r.kind === 'recall' ? r.memories[0]!.id : '', 'from-r1');
    assert.deepEqual([r.coverage.partitions[0]!.node, r.coverage.partitions[0]!.hedged], ['r1', true]);
    assert.ok(Date.now() - started <= 16, `hedged answer after ${Date.now() - started} ms (hedge at 8 ms + 5 ms)`);
    assert.deepEqual(aborted, ['n1'], 'the slow first call is cancelled once the hedge won');
    assert.deepEqual(hedges, ['sent', 'won']);
  });

  it('the hedge budget caps extra calls at 5% of first calls under a persistently slow copy', async () => {
    const b: Record<string, Behaviour> = { n1: { delayMs: 5, answer: recallAnswer([]) }, r1: { delayMs: 5, answer: recallAnswer([]) } };
    const { transport, calls } = fakeTransport(b);
    const hedges: string[] = [];
    const ex = executor(transport, { ranking: false, onHedge: (e) => hedges.push(e) });
    const q = { kind: 'recall' as const, space: 'space1', cue: { text: 'x' } };
    for (let i = 0; i < 30; i++) await drive(ex.execute(q), 1);
    b.n1!.delayMs = 40;
    const batch = 200;
    await drive(Promise.all(Array.from({ length: batch }, () => ex.execute(q, { timeoutMs: 1_000 }))), 1);
    const sent = hedges.filter((h) => h === 'sent').length;
    // The 200 first calls of the batch earn 10 hedges, and one may have been saved up before.
    assert.ok(sent >= 1 && sent <= batch * 0.05 + 1, `${sent} hedges for ${batch} first calls`);
    assert.equal(calls.length, 30 + batch + sent);
  });

  it('ranks a consistently slow copy last after a warm-up', async () => {
    const b: Record<string, Behaviour> = { n1: { delayMs: 30, answer: recallAnswer([]) }, r1: { delayMs: 3, answer: recallAnswer([]) } };
    const { transport, calls } = fakeTransport(b);
    const ex = executor(transport, { hedging: { enabled: false } });
    const q = { kind: 'recall' as const, space: 'space1', cue: { text: 'x' } };
    for (let i = 0; i < 5; i++) await drive(ex.execute(q), 1);
    calls.length = 0;
    for (let i = 0; i < 40; i++) await drive(ex.execute(q), 1);
    const toSlow = calls.filter((c) => c === 'n1').length;
    assert.ok(toSlow <= 4, `${toSlow} of 40 queries went to the slow copy first`);
    assert.ok(ex.ranker!.rank('n1')! > ex.ranker!.rank('r1')!);
  });

  it('allowPartial=false and minCoverage turn a missing partition into an error listing it', async () => {
    const b = { n1: { delayMs: 5, fail: status.UNAVAILABLE }, r1: { delayMs: 5, fail: status.UNAVAILABLE }, n2: { delayMs: 5, answer: imagineAnswer('space2', [0.8]) }, n3: { delayMs: 5, answer: imagineAnswer('space3', [0.6]) } };
    const e1 = await drive(executor(fakeTransport(b).transport).execute(imagine, { allowPartial: false })).catch((e: unknown) => e);
    assert.ok(e1 instanceof InsufficientCoverageError);
    assert.deepEqual(e1.missing, ['space1']);
    const e2 = await drive(executor(fakeTransport(b).transport).execute(imagine, { minCoverage: 0.9 })).catch((e: unknown) => e);
    assert.ok(e2 instanceof InsufficientCoverageError);
    const ok = await drive(executor(fakeTransport(b).transport).execute(imagine, { minCoverage: 0.6 }));
    assert.equal(ok.coverage.responding, 2);
  });

  it('a request every copy would refuse fails the query with INVALID_ARGUMENT, without trying others', async () => {
    const { transport, calls } = fakeTransport({ n1: { delayMs: 1, fail: status.INVALID_ARGUMENT }, r1: { delayMs: 1, answer: recallAnswer([]) } });
    const err = await drive(executor(transport).execute({ kind: 'recall', space: 'space1', cue: { text: 'x' } })).catch((e: unknown) => e);
    assert.equal((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
    assert.deepEqual(calls, ['n1']);
  });
});

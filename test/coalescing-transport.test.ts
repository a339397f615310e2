/**
 * The coalescing transport (src/query/coalescing-transport.ts) over a fake unary call: the calls
 * of one turn to one node go as one ExecuteLocalBatch, a lone call as ExecuteLocal, each entry
 * answers or fails on its own, cancellation stays per call, and a node without the batch method
 * gets its calls one by one. The real thing runs in test/cross-spread.test.ts (batches counted in
 * the nodes' metrics).
 */
import { describe, it } from 'node:test';
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

const opts = (signal = new AbortController().signal, deadline = Date.now() + 1_000) => ({ deadline, signal });
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

  it('a node without the batch method gets the calls one by one, from then on', async () => {
    const { unary, sent } = fake(async (s) => {
      if (s.method === 'ExecuteLocalBatch') throw Object.assign(new Error('12 UNIMPLEMENTED'), { code: grpc.status.UNIMPLEMENTED, details: '', metadata: new grpc.Metadata() });
      return { partition: s.request.partition };
    });
    const t = coalescingTransport(unary);
    const both = () => Promise.all([t.executeLocal('e:1', { partition: 'p1' }, opts()), t.executeLocal('e:1', { partition: 'p2' }, opts())]);
    assert.deepEqual(await both(), [{ partition: 'p1' }, { partition: 'p2' }]);
    assert.deepEqual(sent.map((s) => s.method), ['ExecuteLocalBatch', 'ExecuteLocal', 'ExecuteLocal']);
    assert.deepEqual(await both(), [{ partition: 'p1' }, { partition: 'p2' }]);
    assert.deepEqual(sent.slice(3).map((s) => s.method), ['ExecuteLocal', 'ExecuteLocal']);
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

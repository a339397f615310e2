/**
 * Bad input through the public gRPC service of a real node process: every case gets a clear
 * status naming the field and value, and a rejected batch stores nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { EngramError } from '../src/errors.js';
import { NodeFixture, vec, type TestNode } from './helpers/node.js';

const DIM = 8;

async function rejects(p: Promise<unknown>, code: status, message: RegExp): Promise<EngramError> {
  const err = await p.then(
    () => assert.fail('expected the call to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof EngramError, `expected a typed error, got ${String(err)}`);
  assert.equal(status[err.grpcStatus], status[code], err.message);
  assert.match(err.message, message);
  return err;
}

describe('bad input to a node', () => {
  const fx = new NodeFixture();
  let n: TestNode;
  const good = (id: string, seed: number) => ({ id, embedding: vec(DIM, seed), content: `memory ${id}`, confidence: { lower: 0.6, upper: 0.8 } });

  before(async () => {
    n = await fx.start('bad-input');
    await n.client.createSpace('space-a', { dimension: DIM });
    await n.client.store('space-a', { memories: [good('m1', 1), good('m2', 2)], associations: [{ from: 'm1', to: 'm2', weight: 0.5 }] });
  });
  after(() => fx.cleanup());

  async function assertUnchanged() {
    const s = await n.client.status();
    const space = s.spaces.find((x) => x.id === 'space-a');
    assert.equal(space?.memories, 2);
    assert.equal(space?.associations, 1);
    const r = await n.client.query({ kind: 'recall', space: 'space-a', cue: { embedding: Float32Array.from(vec(DIM, 1)) }, limit: 10 });
    assert.ok(r.kind === 'recall');
    assert.deepEqual(r.memories.map((m) => m.id).sort(), ['m1', 'm2']);
  }

  it('rejects a bad space id, naming it', async () => {
    await rejects(n.client.createSpace('No!'), status.INVALID_ARGUMENT, /space.*"No!"/);
    await rejects(n.client.createSpace('ab'), status.INVALID_ARGUMENT, /space/);
  });

  it('rejects a dimension out of range', async () => {
    await rejects(n.client.createSpace('too-wide', { dimension: 100_000 }), status.INVALID_ARGUMENT, /dimension/);
  });

  it('answers NOT_FOUND for an unknown space, on store and on query', async () => {
    await rejects(n.client.store('no-such-space', { memories: [good('x', 1)] }), status.NOT_FOUND, /no-such-space/);
    await rejects(n.client.query({ kind: 'recall', space: 'no-such-space', cue: { text: 'hello' } }), status.NOT_FOUND, /no-such-space/);
  });

  it('rejects a wrong embedding dimension and stores nothing of the batch', async () => {
    await rejects(
      n.client.store('space-a', { memories: [good('m3', 3), { ...good('m4', 4), embedding: vec(DIM + 1, 4) }] }),
      status.INVALID_ARGUMENT,
      /memories\[1\]\.embedding/,
    );
    await assertUnchanged();
  });

  it('rejects NaN and Inf in an embedding', async () => {
    const nan = vec(DIM, 5);
    nan[3] = Number.NaN;
    await rejects(n.client.store('space-a', { memories: [good('m5', 5), { ...good('m6', 6), embedding: nan }] }), status.INVALID_ARGUMENT, /memories\[1\]\.embedding/);
    const inf = vec(DIM, 5);
    inf[0] = Number.POSITIVE_INFINITY;
    await rejects(n.client.store('space-a', { memories: [{ ...good('m7', 7), embedding: inf }] }), status.INVALID_ARGUMENT, /memories\[0\]\.embedding/);
    await assertUnchanged();
  });

  it('rejects confidences outside [0,1] and lower > upper', async () => {
    for (const confidence of [{ lower: 0.9, upper: 0.3 }, { lower: 0.2, upper: 1.5 }, { lower: -0.1, upper: 0.5 }]) {
      await rejects(n.client.store('space-a', { memories: [good('m8', 8), { ...good('m9', 9), confidence }] }), status.INVALID_ARGUMENT, /memories\[1\]\.confidence/);
    }
    await assertUnchanged();
  });

  it('rejects empty and duplicate ids in a batch', async () => {
    await rejects(n.client.store('space-a', { memories: [good('', 1)] }), status.INVALID_ARGUMENT, /memories\[0\]\.id/);
    await rejects(n.client.store('space-a', { memories: [good('dup', 1), good('dup', 2)] }), status.INVALID_ARGUMENT, /memories\[1\]\.id.*dup/);
    await assertUnchanged();
  });

  it('rejects an association to nowhere, with the rest of its batch', async () => {
    await rejects(
      n.client.store('space-a', { memories: [good('m10', 10)], associations: [{ from: 'ghost', to: 'm1', weight: 0.5 }] }),
      status.INVALID_ARGUMENT,
      /associations\[0\]/,
    );
    await rejects(n.client.store('space-a', { associations: [{ from: 'm1', to: 'm2', weight: 1.5 }] }), status.INVALID_ARGUMENT, /associations\[0\]\.weight/);
    await assertUnchanged();
  });

  it('rejects a limit of 0 and a limit above the cap', async () => {
    const cue = { embedding: Float32Array.from(vec(DIM, 1)) };
    await rejects(n.client.query({ kind: 'recall', space: 'space-a', cue, limit: 0 }), status.INVALID_ARGUMENT, /limit/);
    await rejects(n.client.query({ kind: 'recall', space: 'space-a', cue, limit: 1_000_000 }), status.INVALID_ARGUMENT, /limit.*1000000/);
    await rejects(n.client.query({ kind: 'imagine', spaces: ['space-a'], cue, limit: 0 }), status.INVALID_ARGUMENT, /limit/);
  });

  it('rejects a cue of the wrong dimension', async () => {
    await rejects(n.client.query({ kind: 'recall', space: 'space-a', cue: { embedding: Float32Array.from(vec(3, 1)) } }), status.INVALID_ARGUMENT, /cue/);
  });

  it('refuses a message over the size cap without storing it', async () => {
    const huge = 'x'.repeat(17 * 1024 * 1024);
    await rejects(n.client.store('space-a', { memories: [{ ...good('big', 1), content: huge }] }), status.RESOURCE_EXHAUSTED, /larger than max|message/i);
    await assertUnchanged();
  });

  it('rejects content over the documented cap', async () => {
    await rejects(n.client.store('space-a', { memories: [{ ...good('long', 1), content: 'y'.repeat(70_000) }] }), status.INVALID_ARGUMENT, /memories\[0\]\.content/);
    await assertUnchanged();
  });
});

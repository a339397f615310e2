/** A write acknowledged to the client survives kill -9 of the node process; so does the data directory's storage id. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { NodeFixture, vec } from './helpers/node.js';

describe('durability across kill -9', () => {
  const fx = new NodeFixture();
  after(() => fx.cleanup());

  it('keeps every acknowledged batch, whole, and answers the same after restart', async () => {
    const DIM = 16;
    const BATCH = 25;
    const first = await fx.start('durable');
    await first.client.createSpace('durable-space', { dimension: DIM });
    const ackedBatches: number[] = [];
    const batch = (b: number) => ({
      memories: Array.from({ length: BATCH }, (_, i) => ({ id: `b${b}-m${i}`, embedding: vec(DIM, b * 100 + i + 1), content: `batch ${b} item ${i}` })),
      associations: [{ from: `b${b}-m0`, to: `b${b}-m1`, weight: 0.7 }],
    });
    for (let b = 0; b < 20; b++) {
      await first.client.store('durable-space', batch(b));
      ackedBatches.push(b);
    }
    const cue = { embedding: Float32Array.from(vec(DIM, 777)) };
    const before = await first.client.query({ kind: 'recall', space: 'durable-space', cue, limit: 20 });
    // Writes keep coming while the process dies without any chance to flush or close.
    const inFlight = Array.from({ length: 5 }, (_, i) => first.client.store('durable-space', batch(20 + i)).then(
      () => ackedBatches.push(20 + i),
      () => undefined,
    ));
    assert.equal(await first.proc.kill9(), 'SIGKILL');
    await Promise.all(inFlight);

    const second = await fx.start('durable', first.dataDir);
    const s = await second.client.status();
    const space = s.spaces.find((x) => x.id === 'durable-space');
    assert.equal(space?.dimension, DIM);
    // Every acknowledged batch is there; an unacknowledged one is there whole or not at all.
    assert.ok(space!.memories >= ackedBatches.length * BATCH, `${space!.memories} memories, ${ackedBatches.length} batches acknowledged`);
    assert.equal(space!.memories % BATCH, 0);
    assert.equal(space!.associations, space!.memories / BATCH);
    for (const b of ackedBatches) {
      const r = await second.client.query({ kind: 'recall', space: 'durable-space', cue: { embedding: Float32Array.from(vec(DIM, b * 100 + 1)) }, limit: 1 });
      assert.ok(r.kind === 'recall');
      assert.equal(r.memories[0]?.id, `b${b}-m0`);
    }
    const after = await second.client.query({ kind: 'recall', space: 'durable-space', cue, limit: 200 });
    assert.ok(before.kind === 'recall' && after.kind === 'recall');
    const top = (r: typeof before) => (r.kind === 'recall' ? r.memories.filter((m) => Number(m.id.slice(1, m.id.indexOf('-'))) < 20) : []);
    assert.deepEqual(top(after).slice(0, 20), top(before));
  });

  it('a lone --gossip node keeps the space it created and its memory across kill -9 (issue 11, test 1)', async () => {
    const cluster = ['--gossip', '127.0.0.1:0', '--cluster-key', 'lone-node-key'];
    const first = await fx.start('lone', undefined, { extraArgs: cluster });
    await first.client.createSpace('lone-space', { dimension: 4 });
    await first.client.store('lone-space', { memories: [{ id: 'kept', embedding: [1, 0, 0, 0], content: 'acknowledged' }] });
    await first.proc.kill9();
    const second = await fx.start('lone', first.dataDir, { extraArgs: cluster });
    const s = await second.client.status();
    assert.deepEqual(s.assignments.map((a) => [a.space, a.primary, a.dimension]), [['lone-space', 'lone', 4]]);
    const r = await second.client.query({ kind: 'recall', space: 'lone-space', cue: { embedding: Float32Array.of(1, 0, 0, 0) }, limit: 1 });
    assert.deepEqual(r.memories.map((m) => [m.id, m.content]), [['kept', 'acknowledged']]);
  });

  it('keeps its storage id across kill -9 and restart; a wiped data directory gets a new one', async () => {
    const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const first = await fx.start('identity');
    const id = (await first.client.status()).storageId;
    assert.match(id, UUID);
    await first.proc.kill9();
    const again = await fx.start('identity', first.dataDir);
    assert.equal((await again.client.status()).storageId, id);
    await again.proc.stop();
    await rm(first.dataDir, { recursive: true, force: true });
    const wiped = await fx.start('identity', first.dataDir);
    const fresh = (await wiped.client.status()).storageId;
    assert.match(fresh, UUID);
    assert.notEqual(fresh, id);
  });
});

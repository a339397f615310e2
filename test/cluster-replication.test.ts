/**
 * Replication over real node processes: acknowledged copies, reading a replica after kill -9 of
 * the primary, catch-up of a replica that was down, forwarding of writes to the primary.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './helpers/cluster.js';
import { vec } from './helpers/node.js';
import type { EngramClient } from '../src/client/engram-client.js';

const DIM = 8;
const batch = (b: number, size = 20) => ({
  memories: Array.from({ length: size }, (_, i) => ({ id: `b${b}-m${i}`, embedding: vec(DIM, b * 1000 + i + 1), content: `batch ${b} item ${i}` })),
  associations: [{ from: `b${b}-m0`, to: `b${b}-m1`, weight: 0.6 }],
});

async function spaceOn(client: EngramClient, space: string) {
  return (await client.status()).spaces.find((s) => s.id === space);
}

describe('replication', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('acknowledges `all` after both copies, and the replica answers after kill -9 of the primary', async () => {
    cluster = await new TestCluster().start(3);
    const c = cluster;
    await c.node('n3').client.createSpace('kept', { dimension: DIM, primary: 'n1', replicas: ['n2'] });
    let stored = 0;
    for (let b = 0; b < 5; b++) {
      // Sent to n3, which holds no copy: forwarded to the primary.
      const out = await c.node('n3').client.store('kept', { ...batch(b), ack: 'all' });
      assert.equal(out.copies, 2);
      stored += out.memories;
    }
    // `all` means n2 had every batch durably before the answer: nothing to wait for.
    assert.equal((await spaceOn(c.node('n2').client, 'kept'))?.memories, stored);
    const cue = { embedding: Float32Array.from(vec(DIM, 3001)) };
    const fromPrimary = await c.node('n1').client.query({ kind: 'recall', space: 'kept', cue, limit: 10 });
    await c.node('n1').proc.kill9();
    const fromReplica = await c.node('n2').client.query({ kind: 'recall', space: 'kept', cue, limit: 10 });
    assert.ok(fromPrimary.kind === 'recall' && fromReplica.kind === 'recall');
    assert.deepEqual(fromReplica.memories, fromPrimary.memories);
    // With the primary gone, writes are refused rather than forked.
    await assert.rejects(
      c.until('n2 to see n1 down', c.detectionDeadlineMs(3), async () => ((await c.node('n2').client.status()).members.find((m) => m.id === 'n1')?.state === 'down' ? true : undefined)).then(() =>
        c.node('n2').client.store('kept', batch(99)),
      ),
      { code: 'ERR_PRIMARY_UNAVAILABLE', message: /memory space "kept": primary n1 is down/ },
    );
  });

  it('catches a replica up after it was killed during writes: same memories, none twice', async () => {
    cluster = await new TestCluster().start(3);
    const c = cluster;
    await c.node('n1').client.createSpace('catchup', { dimension: DIM, primary: 'n1', replicas: ['n2'] });
    for (let b = 0; b < 5; b++) await c.node('n1').client.store('catchup', { ...batch(b), ack: 'all' });
    // Writes keep coming (ack `one`: the primary alone) while the replica dies and stays down.
    const writes = (async () => {
      for (let b = 5; b < 40; b++) await c.node('n1').client.store('catchup', batch(b));
    })();
    await c.node('n2').proc.kill9();
    await writes;
    const lagging = (await c.node('n1').client.status()).replication.find((r) => r.space === 'catchup' && r.replica === 'n2')!;
    assert.ok(lagging.lag > 0, 'the dead replica is behind');

    await c.startNode('n2');
    const primary = await c.until('n2 to catch up', 30_000, async () => {
      const s = await c.node('n1').client.status();
      const r = s.replication.find((x) => x.space === 'catchup' && x.replica === 'n2');
      return r && r.lag === 0 ? s : undefined;
    });
    const p = primary.spaces.find((s) => s.id === 'catchup')!;
    const r = (await spaceOn(c.node('n2').client, 'catchup'))!;
    assert.equal(p.memories, 40 * 20);
    assert.deepEqual({ ...r }, { ...p });
    const cue = { embedding: Float32Array.from(vec(DIM, 17_005)) };
    const a = await c.node('n1').client.query({ kind: 'recall', space: 'catchup', cue, limit: 25 });
    const b = await c.node('n2').client.query({ kind: 'recall', space: 'catchup', cue, limit: 25 });
    assert.ok(a.kind === 'recall' && b.kind === 'recall');
    assert.deepEqual(b.memories, a.memories);
  });

  it('acknowledges `quorum` with 2 of 3 copies while one replica is down', async () => {
    cluster = await new TestCluster(['--replication-factor', '3']).start(3);
    const c = cluster;
    const created = await c.node('n1').client.createSpace('quorum-space', { dimension: DIM });
    assert.equal(created.replicas.length, 2);
    const down = created.replicas[1]!;
    await c.node(down).proc.kill9();
    const writer = c.node(created.primary).client;
    const out = await writer.store('quorum-space', { ...batch(1), ack: 'quorum' });
    assert.equal(out.copies, 2);
    await assert.rejects(writer.store('quorum-space', { ...batch(2), ack: 'all' }), { code: 'ERR_REPLICATION_TIMEOUT', message: /2 of the 3 copies/ });
  });
});

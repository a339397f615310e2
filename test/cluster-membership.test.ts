/**
 * A real cluster: node processes on 127.0.0.1 gossiping over UDP. Formation from seeds, one
 * assignment table everywhere, kill -9 detection and rejoin, partition detection through the
 * fault switch, and a stranger with the wrong cluster key kept out.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './helpers/cluster.js';

describe('cluster membership', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  for (const size of [3, 5]) {
    it(`${size} nodes form from seeds and agree on members and the assignment table`, async () => {
      cluster = await new TestCluster().start(size);
      const c = cluster;
      await c.node('n1').client.createSpace('space-one', { dimension: 8 });
      await c.node(`n${size}`).client.createSpace('space-two', { dimension: 8, primary: 'n2', replicas: ['n1'] });
      const all = await c.waitConverged();
      const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`).sort();
      for (const s of all) {
        assert.deepEqual(s.members.map((m) => m.id).sort(), ids);
        // One committed table: the same metadata log applied everywhere.
        assert.equal(s.meta!.digest, all[0]!.meta!.digest);
        assert.deepEqual(s.assignments, all[0]!.assignments);
        assert.equal(s.partitionState, 'connected');
      }
      const two = all[0]!.assignments.find((a) => a.space === 'space-two')!;
      assert.deepEqual([two.primary, two.replicas], ['n2', ['n1']]);
      const one = all[0]!.assignments.find((a) => a.space === 'space-one')!;
      assert.equal(one.replicas.length, 2, 'default: 3 copies');
      // The copy holders created the space, and nobody else did.
      for (const s of all) {
        const holds = s.spaces.map((x) => x.id);
        for (const a of [one, two]) assert.equal(holds.includes(a.space), a.primary === s.nodeId || a.replicas.includes(s.nodeId), `${s.nodeId} / ${a.space}`);
      }
    });
  }

  it('marks a kill -9ed node down within the detection time, and takes it back with a new incarnation', async () => {
    cluster = await new TestCluster().start(3);
    const c = cluster;
    await c.node('n1').client.createSpace('before-kill', { dimension: 4 });
    const { assignments } = (await c.waitConverged())[0]!;
    const before = (await c.node('n1').client.status()).members.find((m) => m.id === 'n3')!;
    const killedAt = Date.now();
    await c.node('n3').proc.kill9();
    await c.until('n1 and n2 to see n3 down', c.detectionDeadlineMs(3), async () => {
      const all = await c.statuses([c.node('n1'), c.node('n2')]);
      return all.every((s) => s.members.find((m) => m.id === 'n3')?.state === 'down') ? true : undefined;
    });
    const detectedMs = Date.now() - killedAt;
    assert.ok(detectedMs <= c.detectionDeadlineMs(3));
    const s1 = await c.node('n1').client.status();
    assert.equal(s1.partitionState, 'connected', '2 of 3 reachable is above the 0.6 threshold');

    // Alone (no seeds, a new port nobody knows), it still knows where every space lives: its
    // metadata log is on disk and replayed at start.
    const alone = await c.startNode('n3', { seeds: [] });
    const seen = await alone.client.status();
    assert.deepEqual(seen.assignments, assignments);
    await alone.proc.stop();

    await c.startNode('n3');
    const all = await c.waitConverged();
    for (const s of all) {
      const n3 = s.members.find((m) => m.id === 'n3')!;
      assert.equal(n3.state, 'alive');
      assert.ok(n3.incarnation > before.incarnation, `incarnation ${n3.incarnation} > ${before.incarnation}`);
    }
  });

  it('reports a node whose traffic is cut as partitioned, and heals when it returns', async () => {
    cluster = await new TestCluster().start(3);
    const c = cluster;
    await c.setFault('n3', { cutOff: true });
    await c.until('n3 to report itself partitioned', c.detectionDeadlineMs(3), async () =>
      (await c.node('n3').client.status()).partitionState === 'partitioned' ? true : undefined,
    );
    // The majority side still has 2 of 3: not partitioned.
    assert.equal((await c.node('n1').client.status()).partitionState, 'connected');
    await c.setFault('n3', { cutOff: false });
    await c.until('n3 to heal', c.detectionDeadlineMs(3) * 2, async () =>
      (await c.node('n3').client.status()).partitionState === 'connected' ? true : undefined,
    );
    await c.waitConverged();
  });

  it('never admits a node with the wrong cluster key', async () => {
    cluster = await new TestCluster().start(2);
    const c = cluster;
    const seeds = [c.node('n1').proc.gossipAddress];
    // Gossip drops its packets, so it finds no member to join through and gives up.
    const stranger = await c.startNode('stranger', { seeds, key: 'not-the-key', extraArgs: ['--join-timeout-ms', '2000'] }).then(
      () => assert.fail('a node with the wrong key started'),
      (e: unknown) => e as Error,
    );
    assert.match(stranger.message, /exited \(1\) before starting[\s\S]*no member answered within 2000 ms/);
    // A node with the right key, started after the stranger, joins.
    await c.startNode('n3', { seeds });
    await c.until('n3 to join', c.detectionDeadlineMs(3) * 2, async () => {
      const s = await c.node('n1').client.status();
      return s.members.some((m) => m.id === 'n3' && m.state === 'alive') ? true : undefined;
    });
    for (const n of ['n1', 'n2', 'n3']) {
      const s = await c.node(n).client.status();
      assert.equal(s.members.some((m) => m.id === 'stranger'), false, `${n} admitted the stranger`);
    }
  });
});

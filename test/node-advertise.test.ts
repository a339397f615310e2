/**
 * A node listening on 0.0.0.0 tells its peers and clients the advertised address, never the
 * wildcard, joins a cluster and serves; its scrape carries the cluster gauges (members by state,
 * each space copy's Raft role / term / commit lag, partition state, under-replication).
 *
 * The advertised node runs in-process (EngramNode.start) next to node processes of a TestCluster.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { EngramNode } from '../src/node/engram-node.js';
import { EngramClient } from '../src/client/engram-client.js';
import { InvalidArgumentError } from '../src/errors.js';
import { CLUSTER_KEY, TestCluster, TIMING } from './helpers/cluster.js';
import { vec } from './helpers/node.js';
import { needTool } from './helpers/system-tools.js';

const DIM = 8;

/** Polls `probe` until it returns a value, failing after `ms` (never a fixed sleep as a wait). */
async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function promtool(scrape: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? Number(err.code) : 0, output: stdout + stderr });
    });
    child.stdin!.end(scrape);
  });
}

function sample(body: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of body.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
  }
  return undefined;
}

describe('--advertise and the cluster gauges', () => {
  const roots: string[] = [];
  let cluster: TestCluster | undefined;
  let node: EngramNode | undefined;
  const clients: EngramClient[] = [];
  after(async () => {
    for (const c of clients) c.close();
    await node?.stop();
    await cluster?.stop();
    await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
  });

  async function dataDir(id: string): Promise<string> {
    const root = await mkdtemp(join(os.tmpdir(), 'engram-advertise-'));
    roots.push(root);
    return join(root, id);
  }

  it('refuses a cluster node on a wildcard address with nothing to advertise', async () => {
    const cfg = { id: 'wild', listen: { host: '0.0.0.0', port: 0 }, insecure: true, dataDir: await dataDir('wild') };
    await assert.rejects(
      EngramNode.start({ ...cfg, cluster: { gossipAddress: '127.0.0.1:0', seeds: [], clusterKey: CLUSTER_KEY } }),
      (e: unknown) => e instanceof InvalidArgumentError && /--advertise/.test(e.message),
    );
    await assert.rejects(
      EngramNode.start({ ...cfg, advertise: { host: '0.0.0.0', port: 0 } }),
      (e: unknown) => e instanceof InvalidArgumentError && /wildcard/.test(e.message),
    );
    // Gossip bound to every interface, with no advertised address: nothing a member could send to.
    await assert.rejects(
      EngramNode.start({ id: 'wild-gossip', listen: { host: '127.0.0.1', port: 0 }, dataDir: await dataDir('wild-gossip'), cluster: { gossipAddress: '0.0.0.0:0', seeds: [], clusterKey: CLUSTER_KEY } }),
      (e: unknown) => e instanceof InvalidArgumentError && /advertised address/.test(e.message),
    );
  });

  it('a node on 0.0.0.0 with advertise 127.0.0.1 joins, is known by 127.0.0.1 everywhere, and serves', async () => {
    cluster = await new TestCluster(['--metrics', '127.0.0.1:0']).start(2);
    const n1 = cluster.node('n1');
    node = await EngramNode.start({
      id: 'adv',
      listen: { host: '0.0.0.0', port: 0 },
      insecure: true,
      // Port 0: the port the listener was bound to, behind the advertised host.
      advertise: { host: '127.0.0.1', port: 0 },
      dataDir: await dataDir('adv'),
      metrics: { host: '127.0.0.1', port: 0 },
      cluster: { gossipAddress: '0.0.0.0:0', seeds: [n1.proc.gossipAddress], clusterKey: CLUSTER_KEY, swim: TIMING, rebalance: false },
    });
    const port = Number(node.listenAddress.split(':').pop());
    assert.equal(node.listenAddress, `0.0.0.0:${port}`);
    assert.equal(node.grpcAddress, `127.0.0.1:${port}`);
    assert.match(node.cluster!.gossipAddress, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(node.cluster!.gossipAddress, '127.0.0.1:0');

    // The process nodes know it by its advertised addresses, in gossip and in the metadata table.
    const seen = await until('n1 to see adv alive', 20_000, async () => {
      const s = await n1.client.status();
      const m = s.members.find((x) => x.id === 'adv');
      return m?.state === 'alive' && s.members.length === 3 ? s : undefined;
    });
    const adv = seen.members.find((x) => x.id === 'adv')!;
    assert.equal(adv.grpcAddress, `127.0.0.1:${port}`);
    assert.equal(adv.gossipAddress, node.cluster!.gossipAddress);
    for (const s of await cluster.statuses()) {
      assert.ok(!JSON.stringify(s).includes('0.0.0.0'), `a wildcard address in ${s.nodeId}'s Status`);
    }

    // A client told only the advertised address creates a space with a copy on every node and
    // reads back through a process node, and the process nodes read through it.
    const client = new EngramClient({ nodes: [node.grpcAddress], deadlineMs: 20_000, routing: 'any' });
    clients.push(client);
    const own = await client.status();
    assert.equal(own.grpcAddress, `127.0.0.1:${port}`);
    await client.createSpace('adv-space', { dimension: DIM, primary: 'adv', replicas: ['n1', 'n2'] });
    await client.store('adv-space', { memories: [{ id: 'm1', embedding: vec(DIM, 1), content: 'one' }] });
    const r = await n1.client.query({ kind: 'recall', space: 'adv-space', cue: { embedding: Float32Array.from(vec(DIM, 1)) }, limit: 1 }, { consistency: 'leader' });
    assert.ok(r.kind === 'recall');
    assert.equal(r.memories[0]?.id, 'm1');
  });

  it('the scrape carries members by state, Raft role/term/commit lag per space, partition state; promtool passes', async (t) => {
    assert.ok(node?.metricsAddress, 'the previous test started no node');
    const url = `http://${node.metricsAddress}/metrics`;
    // Every copy of adv-space voting: the space is fully replicated once the group has 3 voters.
    const body = await until('adv-space to have its 3 voters', 20_000, async () => {
      const b = await (await fetch(url)).text();
      return sample(b, 'engram_space_voters', { space: 'adv-space' }) === 3 ? b : undefined;
    });
    assert.equal(sample(body, 'engram_cluster_members', { state: 'alive' }), 3);
    assert.equal(sample(body, 'engram_cluster_members', { state: 'down' }), 0);
    assert.equal(sample(body, 'engram_cluster_partition_state', { state: 'connected' }), 1);
    assert.equal(sample(body, 'engram_cluster_partition_state', { state: 'partitioned' }), 0);
    const roles = ['leader', 'follower', 'candidate', 'pre_candidate', 'learner'].map((role) => sample(body, 'engram_space_raft_role', { space: 'adv-space', role }));
    assert.ok(roles.every((v) => v === 0 || v === 1), roles.join());
    assert.equal(roles.reduce<number>((a, b) => a + (b ?? 0), 0), 1, 'one role at a time');
    assert.ok(sample(body, 'engram_space_raft_term', { space: 'adv-space' })! >= 1);
    assert.ok(sample(body, 'engram_space_commit_lag', { space: 'adv-space' })! >= 0);
    assert.equal(sample(body, 'engram_space_under_replicated', { space: 'adv-space' }), 0);
    assert.match(body, /^engram_rpc_in_flight\{node="adv"\} \d+/m);
    // The metadata group's leader and this node's copy agree on who leads adv-space.
    const leaders = await Promise.all([node, ...['n1', 'n2']].map(async (n) => {
      const u = typeof n === 'string' ? `http://${cluster!.node(n).proc.metricsAddress}/metrics` : url;
      return sample(await (await fetch(u)).text(), 'engram_space_raft_role', { space: 'adv-space', role: 'leader' });
    }));
    assert.ok(leaders.filter((v) => v === 1).length <= 1, `more than one leader: ${leaders.join()}`);

    if (!needTool(t, 'promtool')) return;
    const lint = await promtool(body);
    assert.equal(lint.code, 0, lint.output);
    assert.equal(lint.output.trim(), '', lint.output);
  });

  it('engram-node --listen 0.0.0.0:0 --advertise 127.0.0.1:0 (flags of the process) joins and serves under the advertised address', async () => {
    assert.ok(cluster);
    // The harness passes --listen 127.0.0.1:0 first; the later flag wins.
    const n4 = await cluster.startNode('n4', { extraArgs: ['--listen', '0.0.0.0:0', '--insecure', '--advertise', '127.0.0.1:0', '--advertise-gossip', '127.0.0.1:0'] });
    assert.match(n4.proc.grpcAddress, /^127\.0\.0\.1:\d+$/);
    const seen = await until('n1 to see n4 alive at 127.0.0.1', 20_000, async () => {
      const m = (await cluster!.node('n1').client.status()).members.find((x) => x.id === 'n4');
      return m?.state === 'alive' ? m : undefined;
    });
    assert.equal(seen.grpcAddress, n4.proc.grpcAddress);
    assert.match(seen.gossipAddress, /^127\.0\.0\.1:\d+$/);
    const st = await n4.client.status();
    assert.ok(!JSON.stringify(st).includes('0.0.0.0'), 'no member is known by a wildcard address');
  });

  it('members by state follow a member that stops', async () => {
    assert.ok(node && cluster);
    await cluster.node('n2').proc.stop();
    const url = `http://${node.metricsAddress}/metrics`;
    await until('n2 down in adv\'s view', 20_000, async () => {
      const b = await (await fetch(url)).text();
      return (sample(b, 'engram_cluster_members', { state: 'alive' }) ?? 0) === 3 ? b : undefined;
    });
    const b = await (await fetch(url)).text();
    assert.equal(sample(b, 'engram_cluster_members', { state: 'alive' }), 3);
    assert.equal((sample(b, 'engram_cluster_members', { state: 'left' }) ?? 0) + (sample(b, 'engram_cluster_members', { state: 'down' }) ?? 0) + (sample(b, 'engram_cluster_members', { state: 'suspect' }) ?? 0), 1);
  });
});

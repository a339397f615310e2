/**
 * The cluster key guards the internal service, over real plaintext loopback nodes: a caller
 * without the key's tag (or with another key's) gets UNAUTHENTICATED from ExecuteLocal,
 * Replicate, PushTable and PullTable and changes nothing; a node without a cluster refuses
 * internal calls; refusals are counted in the metrics.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { internalCallMetadata, AUTH_TAG_HEADER, NODE_ID_HEADER } from '../src/security/internal-auth.js';
import { protos } from '../src/wire/proto.js';
import { queryToWire } from '../src/query/to-wire.js';
import { CLUSTER_KEY, TestCluster } from './helpers/cluster.js';
import { NodeFixture, vec } from './helpers/node.js';

const DIM = 8;

function call<T = unknown>(address: string, method: string, request: unknown, metadata = new grpc.Metadata()): Promise<{ err: grpc.ServiceError | null; res: T | undefined }> {
  const client = new (protos().InternalClient)(address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
  return new Promise<{ err: grpc.ServiceError | null; res: T | undefined }>((resolve) =>
    client[method]!(request, metadata, { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null, res: T) => resolve({ err, res })),
  ).finally(() => client.close());
}

async function metric(address: string, pattern: RegExp): Promise<number> {
  const body = await (await fetch(`http://${address}/metrics`)).text();
  const m = pattern.exec(body);
  return m ? Number(m[1]) : 0;
}

describe('internal calls need the cluster key', () => {
  let c: TestCluster;
  const fx = new NodeFixture();

  before(async () => {
    c = await new TestCluster(['--metrics', '127.0.0.1:0']).start(3);
    await c.node('n1').client.createSpace('keyed', { dimension: DIM, primary: 'n1', replicas: ['n2'] });
    await c.until('the table on every node', 10_000, async () =>
      (await c.statuses()).every((s) => s.assignments.some((a) => a.space === 'keyed')) ? true : undefined,
    );
    await c.node('n1').client.store('keyed', { memories: [{ id: 'a', embedding: vec(DIM, 1) }], ack: 'all' });
  });
  after(async () => {
    await c?.stop();
    await fx.cleanup();
  });

  it('refuses calls without a tag or with the tag of another key, and nothing changes', async () => {
    const n2 = c.node('n2');
    const before = await n2.client.status();
    const { res: table } = await call<{ json: Buffer }>(n2.proc.grpcAddress, 'PullTable', {}, internalCallMetadata(CLUSTER_KEY, 'n1')('PullTable'));
    // What a node started with another --cluster-key sends, and a forged claim to be n1.
    const wrongKey = internalCallMetadata('not-the-cluster-key', 'n4');
    const forged = new grpc.Metadata();
    forged.set(NODE_ID_HEADER, 'n1');
    forged.set(AUTH_TAG_HEADER, 'ab'.repeat(32));
    const evilTable = JSON.parse(table!.json.toString('utf8')) as { version: number; entries: { space: string; primary: string; replicas: string[]; dimension: number; version: number }[] };
    evilTable.version += 10;
    evilTable.entries.push({ space: 'evil', primary: 'n2', replicas: [], dimension: DIM, version: 1 });
    const requests: Record<string, unknown> = {
      ExecuteLocal: { query: queryToWire({ kind: 'recall', space: 'keyed', cue: { embedding: Float32Array.from(vec(DIM, 1)) } }), partition: 'keyed' },
      // A shipped record for a space n2 has not got: without the check it would create it.
      Replicate: { space: 'evil2', dimension: DIM, records: [{ position: 1, payload: Buffer.from('x') }], from: 'n1' },
      PushTable: { json: Buffer.from(JSON.stringify(evilTable)) },
      PullTable: {},
    };
    const cases: [string, grpc.Metadata | undefined, string, RegExp][] = [];
    for (const method of Object.keys(requests)) {
      cases.push([method, undefined, 'missing_tag', /need engram-node-id and engram-auth metadata/]);
      cases.push([method, wrongKey(method), 'bad_tag', /tag of node "n4" does not match this cluster's key/]);
      cases.push([method, forged, 'bad_tag', /tag of node "n1" does not match/]);
      // A valid tag of another method does not open this one.
      cases.push([method, internalCallMetadata(CLUSTER_KEY, 'n1')(method === 'PullTable' ? 'PushTable' : 'PullTable'), 'bad_tag', /does not match/]);
    }
    for (const [method, md, , message] of cases) {
      const { err } = await call(n2.proc.grpcAddress, method, requests[method], md);
      assert.equal(err?.code, grpc.status.UNAUTHENTICATED, `${method} ${md?.get(NODE_ID_HEADER)[0] ?? 'without metadata'}`);
      assert.match(err!.details, message);
      assert.equal(err!.metadata.get('engram-code')[0], 'ERR_UNAUTHENTICATED');
    }

    const afterStatus = await n2.client.status();
    assert.deepEqual(afterStatus.spaces, before.spaces);
    assert.equal(afterStatus.tableVersion, before.tableVersion);
    assert.deepEqual(afterStatus.assignments, before.assignments);
    for (const method of Object.keys(requests)) {
      for (const reason of ['missing_tag', 'bad_tag']) {
        const want = cases.filter(([m, , r]) => m === method && r === reason).length;
        const got = await metric(n2.proc.metricsAddress, new RegExp(`engram_internal_auth_failures_total\\{method="${method}",reason="${reason}",node="n2"\\} (\\d+)`));
        assert.equal(got, want, `${method} ${reason}`);
      }
    }
    // The members themselves still talk: a write replicates and a query through n3 is full.
    await c.node('n1').client.store('keyed', { memories: [{ id: 'b', embedding: vec(DIM, 2) }], ack: 'all' });
    assert.equal((await n2.client.status()).spaces.find((s) => s.id === 'keyed')?.memories, 2);
    const r = await c.node('n3').client.query({ kind: 'recall', space: 'keyed', cue: { embedding: Float32Array.from(vec(DIM, 2)) } });
    assert.equal(r.coverage.full, true);
  });

  it('a node without a cluster refuses internal calls, the fault switch keeps its own gate', async () => {
    const alone = await fx.start('alone');
    await alone.client.createSpace('solo', { dimension: DIM });
    const { err } = await call(alone.proc.grpcAddress, 'ExecuteLocal', {
      query: queryToWire({ kind: 'recall', space: 'solo', cue: { embedding: Float32Array.from(vec(DIM, 1)) } }),
      partition: 'solo',
    });
    assert.equal(err?.code, grpc.status.FAILED_PRECONDITION);
    assert.match(err!.details, /ExecuteLocal: this node runs without a cluster/);
    const fault = await call(alone.proc.grpcAddress, 'SetFault', { cutOff: false, delayMs: 0 });
    assert.equal(fault.err?.code, grpc.status.PERMISSION_DENIED);
  });
});

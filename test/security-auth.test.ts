/**
 * The cluster key guards the internal service, over real plaintext loopback nodes: a caller
 * without the key's tag (or with another key's) gets UNAUTHENTICATED from ExecuteLocal,
 * ForwardStore, ReadSpaceLog, JoinCluster and AwaitApplied and changes nothing (no member added, no table change); a node without a cluster refuses
 * internal calls; refusals are counted in the metrics.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  internalCallMetadata, internalCallTag, requestDigest, AUTH_TAG_HEADER, CLUSTER_ID_HEADER, NODE_ID_HEADER, NONCE_HEADER, TIMESTAMP_HEADER,
} from '../src/security/internal-auth.js';
import { randomUUID } from 'node:crypto';
import { encodeInternalRequest, protos } from '../src/wire/proto.js';
import { queryToWire } from '../src/query/to-wire.js';
import { raftIdOf } from '../src/cluster/identity.js';
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

  it('refuses calls without a tag, with another key\'s, another request\'s, another cluster\'s, a stale or a replayed one, and nothing changes', async () => {
    const n2 = c.node('n2');
    const before = await n2.client.status();
    const clusterId = before.meta!.clusterId;
    // What a node started with another --cluster-key sends, and a forged claim to be n1.
    const wrongKey = internalCallMetadata('not-the-cluster-key', 'n4', clusterId);
    const member = internalCallMetadata(CLUSTER_KEY, 'n1', clusterId);
    const forged = () => {
      const md = new grpc.Metadata();
      for (const [k, v] of [[NODE_ID_HEADER, 'n1'], [CLUSTER_ID_HEADER, clusterId], [TIMESTAMP_HEADER, String(Date.now())], [NONCE_HEADER, 'ab12'], [AUTH_TAG_HEADER, 'ab'.repeat(32)]]) md.set(k!, v!);
      return md;
    };
    /** A valid tag made 60 s ago (the window is 30 s). */
    const stale = (method: string, bytes: Uint8Array) => {
      const f = { nodeId: 'n1', clusterId, method, timestampMs: Date.now() - 60_000, nonce: 'cd34', digest: requestDigest(bytes) };
      const md = new grpc.Metadata();
      for (const [k, v] of [[NODE_ID_HEADER, 'n1'], [CLUSTER_ID_HEADER, clusterId], [TIMESTAMP_HEADER, String(f.timestampMs)], [NONCE_HEADER, f.nonce], [AUTH_TAG_HEADER, internalCallTag(CLUSTER_KEY, f)]]) md.set(k!, v!);
      return md;
    };
    const storageId = '0b9c7a2e-4f1d-4c3b-9a8e-1d2c3b4a5f60';
    const requests: Record<string, unknown> = {
      ExecuteLocal: { query: queryToWire({ kind: 'recall', space: 'keyed', cue: { embedding: Float32Array.from(vec(DIM, 1)) } }), partition: 'keyed' },
      // A write sent on by a "member": without the check it would be proposed and stored.
      ForwardStore: { space: 'keyed', memories: [{ id: 'evil', embedding: vec(DIM, 9), content: 'evil', createdAt: 0 }], associations: [], ack: 'ACK_LEVEL_QUORUM' },
      // Without the check it would hand out the space's records.
      ReadSpaceLog: { space: 'keyed', fromPosition: 2, maxBytes: 1024 },
      // Accepted, it would commit a member "evil" to the table.
      JoinCluster: { nodeId: 'evil', storageId, raftId: raftIdOf('evil', storageId), grpcAddress: '127.0.0.1:1', gossipAddress: '127.0.0.1:1', clusterId: '' },
      AwaitApplied: { index: 1 },
    };
    /** The same method with another body: a tag made for one must not open the other. */
    const otherBody: Record<string, unknown> = {
      ExecuteLocal: { query: queryToWire({ kind: 'recall', space: 'keyed', cue: { embedding: Float32Array.from(vec(DIM, 2)) } }), partition: 'keyed' },
      ForwardStore: { space: 'keyed', memories: [{ id: 'evil2', embedding: vec(DIM, 8), content: 'evil', createdAt: 0 }], associations: [], ack: 'ACK_LEVEL_QUORUM' },
      ReadSpaceLog: { space: 'keyed', fromPosition: 3, maxBytes: 1024 },
      JoinCluster: { nodeId: 'evil2', storageId, raftId: raftIdOf('evil2', storageId), grpcAddress: '127.0.0.1:1', gossipAddress: '127.0.0.1:1', clusterId: '' },
      AwaitApplied: { index: 2 },
    };
    const bytes = (method: string, req: unknown) => encodeInternalRequest(method, req);
    const cases: [string, grpc.Metadata | undefined, string, RegExp][] = [];
    for (const method of Object.keys(requests)) {
      const body = bytes(method, requests[method]);
      cases.push([method, undefined, 'missing_tag', /need engram-node-id, engram-cluster-id/]);
      cases.push([method, wrongKey(method, body), 'bad_tag', /tag of node "n4" does not match this cluster's key/]);
      cases.push([method, forged(), 'bad_tag', /tag of node "n1" does not match/]);
      // A valid tag of another method, or of another request of this one, does not open it.
      cases.push([method, member(method === 'AwaitApplied' ? 'JoinCluster' : 'AwaitApplied', body), 'bad_tag', /does not match/]);
      cases.push([method, member(method, bytes(method, otherBody[method])), 'bad_tag', /does not match this cluster's key and this request/]);
      cases.push([method, stale(method, body), 'stale_tag', /outside the 30 s window/]);
      // JoinCluster compares the cluster id of its request instead (ERR_CLUSTER_MISMATCH).
      if (method !== 'JoinCluster') cases.push([method, internalCallMetadata(CLUSTER_KEY, 'n1', randomUUID())(method, body), 'other_cluster', /belongs to another cluster/]);
    }
    for (const [method, md, , message] of cases) {
      const { err } = await call(n2.proc.grpcAddress, method, requests[method], md);
      assert.equal(err?.code, grpc.status.UNAUTHENTICATED, `${method} ${md?.get(NODE_ID_HEADER)[0] ?? 'without metadata'}: ${err?.details}`);
      assert.match(err!.details, message);
      assert.equal(err!.metadata.get('engram-code')[0], 'ERR_UNAUTHENTICATED');
    }
    // A captured call sent again is refused: the first goes through, the copy does not.
    const captured = member('AwaitApplied', bytes('AwaitApplied', requests.AwaitApplied));
    assert.equal((await call(n2.proc.grpcAddress, 'AwaitApplied', requests.AwaitApplied, captured)).err, null);
    const replayed = await call(n2.proc.grpcAddress, 'AwaitApplied', requests.AwaitApplied, captured);
    assert.equal(replayed.err?.code, grpc.status.UNAUTHENTICATED);
    assert.match(replayed.err!.details, /already seen \(a replayed call\)/);
    cases.push(['AwaitApplied', captured, 'replayed_tag', /./]);

    const afterStatus = await n2.client.status();
    assert.deepEqual(afterStatus.spaces, before.spaces);
    assert.equal(afterStatus.tableVersion, before.tableVersion);
    assert.deepEqual(afterStatus.assignments, before.assignments);
    assert.equal(afterStatus.meta?.digest, before.meta?.digest);
    assert.ok(!afterStatus.members.some((m) => m.id === 'evil'));
    for (const method of Object.keys(requests)) {
      for (const reason of ['missing_tag', 'bad_tag', 'stale_tag', 'other_cluster', 'replayed_tag']) {
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

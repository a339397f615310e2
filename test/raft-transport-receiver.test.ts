/**
 * Who may open a Raft stream: the receiving side refuses, counts and logs a stream without the
 * cluster-key tag or with another key's (UNAUTHENTICATED), one from another cluster or claiming
 * another node (PERMISSION_DENIED, ERR_RAFT_PEER_REFUSED), and with TLS one whose connection
 * presented no CA-signed certificate; nothing of a refused stream reaches the host. Real gRPC
 * servers on 127.0.0.1:0; the host is a recorder, the transport under test is real.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { RaftTransport } from '../src/cluster/raft-transport.js';
import type { RaftTransportOptions } from '../src/cluster/raft-transport-options.js';
import type { RaftAckMsg, RaftBatchMsg } from '../src/cluster/raft-transport-wire.js';
import { internalCallMetadata } from '../src/security/internal-auth.js';
import { channelCredentials, serverCredentials } from '../src/security/credentials.js';
import { loadTlsConfig, type TlsConfig } from '../src/security/tls-config.js';
import { LEAN_CHANNEL_OPTIONS, protos } from '../src/wire/proto.js';
import type { Logger } from '../src/util/logger.js';
import { TestPki } from './helpers/security-certs.js';
import { RecordingHost, until } from './helpers/raft-host-recorder.js';
import { needTool } from './helpers/system-tools.js';

const KEY = 'raft-receiver-test-key';
const CLUSTER = 'cluster-a';



/** Log lines by message, with their fields. */
function recordingLogger(): Logger & { lines: { msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
  const log = (msg: string, fields?: Record<string, unknown>) => void lines.push({ msg, ...(fields ? { fields } : {}) });
  return { lines, info: log, warn: log, error: log };
}

interface Endpoint {
  transport: RaftTransport;
  host: RecordingHost;
  logger: ReturnType<typeof recordingLogger>;
  server: grpc.Server;
  address: string;
}

const opened: Endpoint[] = [];

/** A transport attached to a recording host and served on 127.0.0.1:0. */
async function endpoint(options: Partial<RaftTransportOptions> = {}, tls?: TlsConfig): Promise<Endpoint> {
  const logger = recordingLogger();
  const transport = new RaftTransport({ clusterId: CLUSTER, nodeId: 'receiver', clusterKey: KEY, resolve: () => undefined, logger, ...options });
  const host = new RecordingHost();
  transport.attach(host);
  const server = new grpc.Server({ ...LEAN_CHANNEL_OPTIONS });
  server.addService(protos().internalService, transport.handlers());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', serverCredentials(tls), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const e = { transport, host, logger, server, address: `127.0.0.1:${port}` };
  opened.push(e);
  return e;
}

/**
 * Opens a Raft stream by hand, writes `batches` (numbered 1, 2, …) and ends it; resolves with
 * the final status and the acknowledgements received. Ending it means an accepted stream ends
 * OK instead of hanging.
 */
function rawStream(address: string, metadata: grpc.Metadata, batches: Omit<RaftBatchMsg, 'seq'>[], credentials = grpc.credentials.createInsecure()): Promise<{ status: grpc.StatusObject; acks: number[] }> {
  const client = new (protos().InternalClient)(address, credentials) as grpc.Client & Record<string, Function>;
  return new Promise<{ status: grpc.StatusObject; acks: number[] }>((resolve) => {
    const acks: number[] = [];
    const call = client.Raft!(metadata, { deadline: Date.now() + 5_000 }) as grpc.ClientDuplexStream<RaftBatchMsg, RaftAckMsg>;
    call.on('data', (ack: RaftAckMsg) => acks.push(ack.seq));
    call.on('status', (status: grpc.StatusObject) => resolve({ status, acks }));
    call.on('error', () => undefined);
    batches.forEach((b, i) => call.write({ ...b, seq: i + 1 }));
    call.end();
  }).finally(() => client.close());
}

const tagged = (nodeId: string, key = KEY) => internalCallMetadata(key, nodeId, CLUSTER)('Raft');
const batch = (clusterId: string, fromNode: string) => ({ clusterId, fromNode, messages: [{ group: 'meta', data: Buffer.from('m') }] });
const code = (r: { status: grpc.StatusObject }) => r.status.metadata.get('engram-code')[0];

describe('Raft transport: who may open a stream', () => {
  const counted = () => process.getActiveResourcesInfo().filter((r) => /TCP|Timeout/.test(r)).sort();
  let baseline: string[] = [];
  let pki: TestPki | undefined;
  before(() => {
    baseline = counted();
  });
  after(async () => {
    for (const e of opened) {
      e.transport.close();
      e.server.forceShutdown();
    }
    await pki?.cleanup();
    await until('sockets released', () => counted().join() === baseline.join(), 5_000).catch(() => undefined);
    assert.deepEqual(counted(), baseline);
  });

  it('takes a tagged stream of its cluster, steps every message in order and acknowledges each batch', async () => {
    const r = await endpoint();
    const res = await rawStream(r.address, tagged('n2'), [batch(CLUSTER, 'n2'), { clusterId: CLUSTER, fromNode: 'n2', messages: [{ group: 'g', data: Buffer.from('x') }, { group: 'meta', data: Buffer.from('y') }] }]);
    assert.equal(res.status.code, grpc.status.OK);
    assert.deepEqual(res.acks, [1, 2]);
    assert.deepEqual(r.host.steps, ['meta:m', 'g:x', 'meta:y']);
    assert.deepEqual([r.transport.stats().batchesReceived, r.transport.stats().messagesReceived, r.transport.stats().streamsAccepted], [2, 3, 1]);
  });

  it('refuses a stream without the tag, or with another key\'s, as UNAUTHENTICATED, and counts each', async () => {
    const r = await endpoint();
    const none = await rawStream(r.address, new grpc.Metadata(), [batch(CLUSTER, 'n2')]);
    assert.equal(none.status.code, grpc.status.UNAUTHENTICATED);
    assert.equal(code(none), 'ERR_UNAUTHENTICATED');
    assert.deepEqual(none.acks, []);
    const otherKey = await rawStream(r.address, tagged('n2', 'another-key'), [batch(CLUSTER, 'n2')]);
    assert.equal(otherKey.status.code, grpc.status.UNAUTHENTICATED);
    // The tag is per method: one made for ExecuteLocal does not open a Raft stream.
    const otherMethod = await rawStream(r.address, internalCallMetadata(KEY, 'n2', CLUSTER)('ExecuteLocal'), [batch(CLUSTER, 'n2')]);
    assert.equal(otherMethod.status.code, grpc.status.UNAUTHENTICATED);
    const s = r.transport.stats();
    assert.deepEqual([s.refused.missing_tag, s.refused.bad_tag, s.streamsAccepted], [1, 2, 0]);
    assert.deepEqual(r.host.steps, []);
    assert.deepEqual(r.logger.lines.map((l) => `${l.msg}:${String(l.fields?.reason)}`), ['raft stream refused:missing_tag', 'raft stream refused:bad_tag', 'raft stream refused:bad_tag']);
  });

  it('refuses a batch of another cluster id, or from a node other than its tag\'s, with PERMISSION_DENIED; nothing of it is stepped', async () => {
    const r = await endpoint();
    const foreign = await rawStream(r.address, tagged('n2'), [batch('cluster-b', 'n2'), batch(CLUSTER, 'n2')]);
    assert.equal(foreign.status.code, grpc.status.PERMISSION_DENIED);
    assert.equal(code(foreign), 'ERR_RAFT_PEER_REFUSED');
    assert.match(foreign.status.details, /belongs to cluster "cluster-b"/);
    assert.doesNotMatch(foreign.status.details, new RegExp(CLUSTER), 'our cluster id stays here');
    assert.deepEqual(foreign.acks, []);
    // A bad batch later on a stream ends it there: the one before was stepped and acknowledged, the one after not.
    const late = await rawStream(r.address, tagged('n2'), [batch(CLUSTER, 'n2'), batch('cluster-b', 'n2'), batch(CLUSTER, 'n2')]);
    assert.equal(late.status.code, grpc.status.PERMISSION_DENIED);
    assert.deepEqual(late.acks, [1]);
    const impostor = await rawStream(r.address, tagged('n2'), [batch(CLUSTER, 'n3')]);
    assert.equal(impostor.status.code, grpc.status.PERMISSION_DENIED);
    const s = r.transport.stats();
    assert.deepEqual([s.refused.cluster_mismatch, s.refused.node_mismatch], [2, 1]);
    assert.deepEqual(r.host.steps, ['meta:m'], 'only the batch before the bad one was stepped');
    assert.deepEqual(r.logger.lines.filter((l) => l.msg === 'raft stream refused').map((l) => l.fields?.reason), ['cluster_mismatch', 'cluster_mismatch', 'node_mismatch']);
  });

  it('a sender of another cluster is refused, reports its peer unreachable, logs the refusal as an error and keeps backing off', async () => {
    const r = await endpoint();
    const logger = recordingLogger();
    let now = 0;
    const sender = new RaftTransport({ clusterId: 'cluster-b', nodeId: 'n9', clusterKey: KEY, resolve: () => r.address, logger, now: () => now, initialBackoffMs: 100, maxBackoffMs: 1_000 });
    const senderHost = new RecordingHost();
    sender.attach(senderHost);
    /** Sends one message at `at` ms; resolves once the stream it may open has been refused. */
    const attempt = async (at: number) => {
      now = at;
      const before = sender.stats().streamsOpened;
      sender.send('meta', 1, Buffer.from('hello'), false);
      sender.flush();
      if (sender.stats().streamsOpened > before) await until('the stream refused', () => sender.stats().streamsBroken === sender.stats().streamsOpened);
    };
    try {
      await attempt(0);
      assert.deepEqual(r.host.steps, []);
      assert.equal(r.transport.stats().refused.cluster_mismatch, 1);
      assert.deepEqual(senderHost.unreachable, ['meta/1']);
      const line = logger.lines.find((l) => l.msg === 'raft peer unreachable');
      assert.equal(line?.fields?.code, 'ERR_RAFT_PEER_REFUSED');
      assert.match(String(line?.fields?.problem), /^PERMISSION_DENIED/);
      // The refusal is never acknowledged, so the backoff doubles: 100 ms, then 200, then 400.
      for (const [at, opened] of [[99, 1], [100, 2], [299, 2], [300, 3], [699, 3], [700, 4]] as const) {
        await attempt(at);
        assert.equal(sender.stats().streamsOpened, opened, `at ${at} ms`);
      }
      assert.equal(r.transport.stats().refused.cluster_mismatch, 4);
      assert.equal(logger.lines.filter((l) => l.msg === 'raft peer unreachable').length, 1, 'the same refusal is logged once');
    } finally {
      sender.close();
    }
  });

  it('refuses streams before it is attached to a host, and after close(), with UNAVAILABLE', async () => {
    const detached = new RaftTransport({ clusterId: CLUSTER, nodeId: 'receiver', clusterKey: KEY, resolve: () => undefined });
    const server = new grpc.Server();
    server.addService(protos().internalService, detached.handlers());
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    opened.push({ transport: detached, host: new RecordingHost(), logger: recordingLogger(), server, address: `127.0.0.1:${port}` });
    const early = await rawStream(`127.0.0.1:${port}`, tagged('n2'), [batch(CLUSTER, 'n2')]);
    assert.equal(early.status.code, grpc.status.UNAVAILABLE);
    const r = await endpoint();
    r.transport.close();
    const late = await rawStream(r.address, tagged('n2'), [batch(CLUSTER, 'n2')]);
    assert.equal(late.status.code, grpc.status.UNAVAILABLE);
    assert.equal(code(late), 'ERR_RAFT_TRANSPORT_CLOSED');
    assert.deepEqual([detached.stats().refused.closed, r.transport.stats().refused.closed], [1, 1]);
  });

  it('with TLS, refuses a connection without a CA-signed client certificate and takes one with', async (t) => {
    if (!needTool(t, 'openssl')) return;
    pki = await TestPki.create();
    const ca = await pki.ca('raft-ca');
    const tls = (files: { ca: string; cert: string; key: string }) => loadTlsConfig(files, true)!;
    const serverTls = tls(await pki.leaf(ca, 'receiver'));
    const r = await endpoint({ requireClientCertificate: true }, serverTls);
    const caOnly = await rawStream(r.address, tagged('n2'), [batch(CLUSTER, 'n2')], channelCredentials({ ca: serverTls.ca }));
    assert.equal(caOnly.status.code, grpc.status.UNAUTHENTICATED);
    assert.equal(r.transport.stats().refused.no_client_certificate, 1);

    const sender = new RaftTransport({ clusterId: CLUSTER, nodeId: 'n2', clusterKey: KEY, resolve: () => r.address, credentials: channelCredentials(tls(await pki.leaf(ca, 'n2'))) });
    sender.attach(new RecordingHost());
    try {
      sender.send('meta', 1, Buffer.from('over-tls'), false);
      sender.flush();
      await until('the message stepped', () => r.host.steps.length === 1);
      assert.deepEqual(r.host.steps, ['meta:over-tls']);
    } finally {
      sender.close();
    }
  });
});

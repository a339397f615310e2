/**
 * The sending side of the Raft transport against real gRPC servers on 127.0.0.1:0: a flush is
 * one batch per peer whatever the groups, an unknown raft id or a dead peer is reported
 * unreachable (a snapshot as failed), the queue of a dead or stalled peer stays within its cap
 * dropping the oldest non-snapshot messages, an idle peer's stream is closed, and options are
 * checked. Hosts are recorders; nothing waits a fixed time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from '../src/errors.js';
import { RaftTransport } from '../src/cluster/raft-transport.js';
import { parseRaftTransportOptions, type RaftTransportOptions } from '../src/cluster/raft-transport-options.js';
import { LEAN_CHANNEL_OPTIONS, protos } from '../src/wire/proto.js';
import { RecordingHost, until } from './helpers/raft-host-recorder.js';

const KEY = 'raft-sender-test-key';
const CLUSTER = 'cluster-a';
const IDENTITY = { clusterId: CLUSTER, clusterKey: KEY } as const;



const closers: (() => void)[] = [];

/** A sender on a recording host; `resolve` maps every raft id through `addresses`. */
function sender(addresses: Record<number, string>, options: Partial<RaftTransportOptions> = {}): { t: RaftTransport; host: RecordingHost } {
  const t = new RaftTransport({ ...IDENTITY, nodeId: 'sender', resolve: (_g, id) => addresses[id], ...options });
  const host = new RecordingHost();
  t.attach(host);
  closers.push(() => t.close());
  return { t, host };
}

/** A receiving transport on a recording host, served on 127.0.0.1 (`port`, default a new one). */
async function receiver(port = 0): Promise<{ t: RaftTransport; host: RecordingHost; address: string; server: grpc.Server }> {
  const t = new RaftTransport({ ...IDENTITY, nodeId: 'receiver', resolve: () => undefined });
  const host = new RecordingHost();
  t.attach(host);
  const server = new grpc.Server({ ...LEAN_CHANNEL_OPTIONS });
  server.addService(protos().internalService, t.handlers());
  const bound = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  closers.push(() => {
    t.close();
    server.forceShutdown();
  });
  return { t, host, address: `127.0.0.1:${bound}`, server };
}

/** An address nothing listens on: a port the kernel gave a listener that is then closed. */
async function deadAddress(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
}

/** Accepts TCP and never answers: a gRPC call to it stays connecting, so its first batch never leaves. */
async function silentAddress(): Promise<string> {
  const sockets = new Set<Socket>();
  const s: NetServer = createServer((socket) => void sockets.add(socket));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closers.push(() => {
    for (const socket of sockets) socket.destroy();
    s.close();
  });
  return `127.0.0.1:${(s.address() as { port: number }).port}`;
}

const m = (s: string) => Buffer.from(s);

describe('Raft transport: sending', () => {
  const counted = () => process.getActiveResourcesInfo().filter((r) => /TCP|Timeout/.test(r)).sort();
  let baseline: string[] = [];
  before(() => {
    baseline = counted();
  });
  after(async () => {
    for (const close of closers) close();
    await until('sockets released', () => counted().join() === baseline.join(), 5_000).catch(() => undefined);
    assert.deepEqual(counted(), baseline);
  });

  it('sends one batch per peer per flush, with the messages of every group in order, on one stream', async () => {
    const a = await receiver();
    const b = await receiver();
    // Raft ids 1 and 2 live on node a, 3 on node b (two groups, the same nodes).
    const { t } = sender({ 1: a.address, 2: a.address, 3: b.address });
    t.send('meta', 1, m('m1'), false);
    t.send('space-a', 2, m('s1'), false);
    t.send('meta', 3, m('m3'), false);
    t.send('meta', 1, m('m2'), false);
    t.flush();
    await until('both peers stepped the round', () => a.host.steps.length === 3 && b.host.steps.length === 1);
    assert.deepEqual(a.host.steps, ['meta:m1', 'space-a:s1', 'meta:m2']);
    assert.deepEqual([a.t.stats().batchesReceived, b.t.stats().batchesReceived], [1, 1]);
    t.send('space-a', 2, m('s2'), false);
    t.flush();
    t.send('meta', 1, m('m4'), false);
    t.flush();
    await until('the next rounds acknowledged', () => a.host.steps.length === 5 && t.stats().batchesAcked === 4);
    const s = t.stats();
    assert.deepEqual([s.streamsOpened, s.peers, s.batchesSent, s.messagesSent, a.t.stats().batchesReceived], [2, 2, 4, 6, 3]);
  });

  it('reports a snapshot delivered once the receiver acknowledged its batch', async () => {
    const a = await receiver();
    const { t, host } = sender({ 2: a.address });
    t.send('meta', 2, m('snapshot'), true);
    t.flush();
    await until('the snapshot reported', () => host.snapshots.length === 1);
    assert.deepEqual(host.snapshots, ['meta/2/true']);
    assert.deepEqual(a.host.steps, ['meta:snapshot'], 'stepped before it was reported');
  });

  it('reports a raft id without an address unreachable, and a snapshot for it failed', () => {
    const { t, host } = sender({});
    t.send('meta', 7, m('x'), false);
    t.send('meta', 7, m('snap'), true);
    t.flush();
    assert.deepEqual([host.unreachable, host.snapshots], [['meta/7'], ['meta/7/false']]);
    assert.deepEqual([t.stats().messagesUnsent, t.stats().peers], [2, 0]);
  });

  it('a dead peer: reported unreachable once per group and peer, its snapshots failed, its queue capped', async () => {
    const dead = await deadAddress();
    // A long backoff: after the first failed dial every flush below finds the peer backing off.
    const { t, host } = sender({ 1: dead, 2: dead }, { maxQueuedMessages: 8, initialBackoffMs: 60_000, maxBackoffMs: 60_000 });
    t.send('meta', 1, m('first'), false);
    t.flush();
    await until('the dial failed', () => t.stats().streamsBroken === 1);
    assert.deepEqual(host.unreachable, ['meta/1']);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 40; i++) t.send(i % 2 ? 'meta' : 'space-a', 1 + (i % 2), m(`r${round}:${i}`), false);
      t.send('meta', 2, m(`snap${round}`), true);
      t.flush();
      assert.ok(t.stats().queued <= 8, `round ${round}: ${t.stats().queued} queued`);
    }
    const s = t.stats();
    assert.equal(s.queued, 8);
    assert.equal(s.messagesDropped, 5 * 40 - 8);
    assert.equal(s.snapshotsFailed, 5);
    assert.deepEqual(host.snapshots, Array.from({ length: 5 }, () => 'meta/2/false'));
    // The failed dial, then each round's two (group, peer) pairs once each, not once per message.
    assert.deepEqual(host.unreachable.slice().sort(), ['meta/1', ...Array.from({ length: 5 }, () => ['meta/2', 'space-a/1']).flat()].sort());
    assert.equal(s.streamsOpened, 1, 'no dial while backing off');
  });

  it('a stalled peer: its queue keeps the snapshot and the newest messages, dropping the oldest others, within the byte cap too', async () => {
    const silent = await silentAddress();
    const { t, host } = sender({ 1: silent }, { maxQueuedMessages: 8, maxQueuedBytes: 1_000, maxUnackedBatches: 1 });
    t.send('meta', 1, m('in-flight'), false);
    t.flush(); // this batch is never acknowledged: the connection never completes
    t.send('meta', 1, m('snapshot'), true);
    for (let i = 0; i < 30; i++) t.send('meta', 1, m(`msg${i}`), false);
    t.flush();
    assert.equal(t.stats().queued, 8);
    assert.equal(t.stats().messagesDropped, 23);
    assert.deepEqual(host.snapshots, [], 'the snapshot was kept, not failed');
    assert.deepEqual(host.unreachable, ['meta/1'], 'the dropped messages reported once');
    // 200-byte messages: the byte cap (1,000) binds before the count cap.
    for (let i = 0; i < 10; i++) t.send('meta', 1, Buffer.alloc(200, i), false);
    t.flush();
    assert.ok(t.stats().queued <= 5, `${t.stats().queued} queued`);
    assert.deepEqual(host.snapshots, []);
    t.close();
  });

  it('backs off longer after each failed dial, and only from the start again once the peer has acknowledged', async () => {
    const address = await deadAddress();
    let now = 0;
    const { t } = sender({ 1: address }, { now: () => now, initialBackoffMs: 100, maxBackoffMs: 10_000 });
    /** Sends at `at` ms; if that opened a stream, waits until it is acknowledged or broken. */
    const attempt = async (at: number): Promise<number> => {
      now = at;
      const { streamsOpened, batchesAcked } = t.stats();
      t.send('meta', 1, m(`at ${at}`), false);
      t.flush();
      if (t.stats().streamsOpened > streamsOpened) await until(`the dial at ${at} settled`, () => t.stats().streamsBroken === t.stats().streamsOpened || t.stats().batchesAcked > batchesAcked);
      return t.stats().streamsOpened;
    };
    assert.equal(await attempt(0), 1); // refused: wait 100
    assert.equal(await attempt(99), 1);
    assert.equal(await attempt(100), 2); // refused: wait 200
    assert.equal(await attempt(299), 2);
    const back = await receiver(Number(address.split(':')[1]));
    assert.equal(await attempt(300), 3); // acknowledged: the backoff starts over
    assert.equal(t.stats().batchesAcked, 1);
    back.t.close();
    back.server.forceShutdown();
    // The break happened at "300": the next dial is due at 400, not at 700.
    await until('the stream broke', () => t.stats().streamsBroken === 3);
    assert.equal(await attempt(399), 3);
    assert.equal(await attempt(400), 4);
  });

  it('closes the stream of a peer unused for idlePeerMs, and the receiver sees it end', async () => {
    const a = await receiver();
    let now = 0;
    const { t } = sender({ 1: a.address }, { idlePeerMs: 1_000, now: () => now });
    t.send('meta', 1, m('x'), false);
    t.flush();
    await until('acknowledged', () => a.host.steps.length === 1 && t.stats().batchesAcked === 1);
    await until('the receiver holds the stream', () => a.t.stats().streamsIn === 1);
    now = 999;
    t.flush();
    assert.equal(t.stats().peers, 1);
    now = 1_000;
    t.flush();
    assert.equal(t.stats().peers, 0);
    await until('the receiver saw the stream end', () => a.t.stats().streamsIn === 0);
    // Sending again opens a new stream.
    t.send('meta', 1, m('y'), false);
    t.flush();
    await until('delivered again', () => a.host.steps.length === 2);
    assert.equal(t.stats().streamsOpened, 2);
  });

  it('options: an explicit 0 is refused where it cannot work and kept where it means something', () => {
    const base = { ...IDENTITY, nodeId: 'n1', resolve: () => undefined };
    for (const bad of [{ maxQueuedMessages: 0 }, { maxQueuedBytes: 0 }, { maxBatchBytes: 0 }, { keepaliveTimeMs: 0 }, { initialBackoffMs: -1 }, { initialBackoffMs: 10, maxBackoffMs: 5 }, { clusterId: '' }]) {
      assert.throws(() => parseRaftTransportOptions({ ...base, ...bad }), ConfigError, JSON.stringify(bad));
    }
    const zero = parseRaftTransportOptions({ ...base, initialBackoffMs: 0, maxBackoffMs: 0, idlePeerMs: 0 });
    assert.deepEqual([zero.initialBackoffMs, zero.maxBackoffMs, zero.idlePeerMs], [0, 0, 0]);
    const input = { ...base };
    parseRaftTransportOptions(input);
    assert.deepEqual(Object.keys(input), Object.keys(base), 'the input is not changed');
  });
});

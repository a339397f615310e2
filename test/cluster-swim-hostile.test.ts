/**
 * Hostile gossip at a running SwimMembership over real UDP on 127.0.0.1: truncated and forged
 * datagrams are dropped and counted in `droppedPackets`, captured datagrams played again are
 * dropped and counted in `replayedPackets`, membership stays as it was, and a member that
 * restarts (a new epoch, its counter from 1 again) is accepted. Waits poll with deadlines.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, Socket } from 'node:dgram';
import { SwimMembership } from '../src/cluster/swim-membership.js';
import type { SwimTimingOptions } from '../src/cluster/swim-options.js';
import { seal, sealEnvelope, TAG_BYTES } from '../src/cluster/swim-auth.js';
import { REPLAY_WINDOW, ReplayGuard } from '../src/cluster/swim-replay.js';

process.env.ENGRAM_NATIVE = 'required';

const TIMING: SwimTimingOptions = { probePeriodMs: 200, probeTimeoutMs: 80, suspectToDownMs: 600, gossipPeriodMs: 100, announcePeriodMs: 1000 };
const KEY = 'cluster-secret';
const WAIT_MS = 10_000;

const owned: { close(): unknown }[] = [];
after(async () => {
  for (const o of owned) await o.close();
});

async function start(id: string, port = 0): Promise<SwimMembership> {
  const m = await SwimMembership.start({ ...TIMING, id, grpcAddress: `127.0.0.1:${40000 + owned.length}`, gossipAddress: `127.0.0.1:${port}`, clusterKey: KEY });
  owned.push(m);
  return m;
}

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  owned.push({ close: () => new Promise<void>((resolve) => s.close(() => resolve())) });
  return s;
}

const portOf = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1));
const send = (s: Socket, bytes: Uint8Array, to: SwimMembership) => new Promise<void>((resolve) => s.send(bytes, portOf(to.gossipAddress), '127.0.0.1', () => resolve()));

/** Polls `check` until it holds; fails after `ms`. */
async function until(check: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const snapshot = (m: SwimMembership) => m.members().map((x) => `${x.id}=${x.state}@${x.incarnation}`);
const stateOf = (m: SwimMembership, id: string) => m.members().find((x) => x.id === id)?.state;

describe('hostile gossip datagrams', () => {
  it('drops and counts truncated and forged datagrams, leaving membership unchanged', async () => {
    const target = await start('t0');
    const peer = await start('t1');
    peer.join([target.gossipAddress]);
    await until(() => stateOf(target, 't1') === 'alive' && stateOf(peer, 't0') === 'alive', 't1 joined');
    const before = snapshot(target);
    const dropped = target.droppedPackets;

    // A well-formed announce from a would-be member, to cut and forge from.
    const genuine = sealEnvelope(Buffer.from(KEY), { sender: '127.0.0.1:9', epoch: 7n, counter: 1n, payload: Buffer.from('not a foca packet, but authentic') });
    const flipped = Buffer.from(genuine);
    flipped[20]! ^= 0x01;
    const hostile: [string, Uint8Array][] = [
      ['empty', Buffer.alloc(0)],
      ['shorter than the tag', Buffer.alloc(10, 7)],
      ['exactly a tag', Buffer.alloc(TAG_BYTES, 1)],
      ['cut in the payload', genuine.subarray(0, genuine.length - TAG_BYTES - 5)],
      ['cut in the tag', genuine.subarray(0, genuine.length - 1)],
      ['a flipped bit', flipped],
      ['sealed with another key', sealEnvelope(Buffer.from('wrong-key'), { sender: '127.0.0.1:9', epoch: 7n, counter: 2n, payload: Buffer.from('x') })],
      ['a tag of zeros', Buffer.concat([genuine.subarray(0, genuine.length - TAG_BYTES), Buffer.alloc(TAG_BYTES)])],
      ['the right key but no envelope (another version)', seal(Buffer.from(KEY), Buffer.from([2, 0, 0, 0]))],
      ['an envelope whose sender runs past its end', seal(Buffer.from(KEY), Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 200, 65]))],
      ['random bytes', Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 17) % 256))],
    ];
    const raw = await udp();
    for (const [, bytes] of hostile) await send(raw, bytes, target);
    await until(() => target.droppedPackets === dropped + hostile.length, `${hostile.length} datagrams counted as dropped (at ${target.droppedPackets - dropped})`);
    assert.equal(target.replayedPackets, 0);
    assert.deepEqual(snapshot(target), before);
    assert.equal(peer.droppedPackets, 0);
  });

  it('drops and counts a captured datagram played again, and accepts the sender after a restart', async () => {
    const target = await start('r0');
    const joiner = await start('r1');
    // A sniffer: while it is on, every datagram any socket of this process sends to the target
    // is recorded as it leaves (it still reaches the target, which handles it as usual).
    const captured: Buffer[] = [];
    const targetPort = portOf(target.gossipAddress);
    const originalSend = Socket.prototype.send;
    Socket.prototype.send = function (this: Socket, msg: unknown, ...rest: unknown[]) {
      if (rest[0] === targetPort && Buffer.isBuffer(msg)) captured.push(Buffer.from(msg));
      return (originalSend as (...a: unknown[]) => void).call(this, msg, ...rest);
    } as typeof Socket.prototype.send;
    try {
      joiner.join([target.gossipAddress]);
      await until(() => stateOf(target, 'r1') === 'alive' && stateOf(joiner, 'r0') === 'alive' && captured.length >= 3, 'r1 joined');
    } finally {
      Socket.prototype.send = originalSend;
    }
    const replays = captured.slice();
    const before = snapshot(target);
    const dropped = target.droppedPackets;

    // Exactly one copy of each datagram gets through, whichever reaches the target first: the
    // count ends at replays.length even if an original were still in flight.
    const attacker = await udp();
    for (const bytes of replays) await send(attacker, bytes, target);
    await until(() => target.replayedPackets === replays.length, `${replays.length} replays counted (at ${target.replayedPackets})`);
    // Twice more each: every copy is counted, none gets through.
    for (const bytes of [...replays, ...replays]) await send(attacker, bytes, target);
    await until(() => target.replayedPackets === 3 * replays.length, 'repeated replays counted');
    assert.equal(target.droppedPackets, dropped, 'a replay is authentic: counted as replayed, not as dropped');
    assert.deepEqual(snapshot(target), before);

    // A restart on the same address: a new epoch, its counter from 1 again, a new incarnation.
    const port = portOf(joiner.gossipAddress);
    const incarnation = target.members().find((m) => m.id === 'r1')!.incarnation;
    await joiner.close();
    const again = await start('r1', port);
    again.join([target.gossipAddress]);
    await until(() => {
      const r1 = target.members().find((m) => m.id === 'r1');
      return r1?.state === 'alive' && r1.incarnation > incarnation && stateOf(again, 'r0') === 'alive';
    }, 'the restarted r1 accepted');
    assert.equal(target.replayedPackets, 3 * replays.length, 'nothing of the new epoch was taken for a replay');
  });
});

describe('ReplayGuard', () => {
  it('accepts each counter once, out of order within the window, never below it', () => {
    const g = new ReplayGuard();
    assert.equal(g.accept('a:1', 1n, 10n), true);
    assert.equal(g.accept('a:1', 1n, 10n), false);
    assert.equal(g.accept('a:1', 1n, 12n), true);
    assert.equal(g.accept('a:1', 1n, 11n), true, 'overtaken but unseen');
    assert.equal(g.accept('a:1', 1n, 11n), false);
    assert.equal(g.accept('a:1', 1n, 5n), true, 'below the first seen but inside the window');
    assert.equal(g.accept('a:1', 1n, 12n + BigInt(REPLAY_WINDOW)), true);
    assert.equal(g.accept('a:1', 1n, 12n), false, 'left the window');
    assert.equal(g.accept('a:1', 1n, 13n), true, 'the oldest counter still inside the window');
    assert.equal(g.accept('a:1', 1n, 1000n), true, 'a jump past the window forgets the bitmap');
    assert.equal(g.accept('a:1', 1n, 1000n - BigInt(REPLAY_WINDOW) + 1n), true);
    assert.equal(g.accept('a:1', 1n, 1000n - BigInt(REPLAY_WINDOW)), false);
  });

  it('keeps senders and epochs apart, and a bounded number of windows', () => {
    const g = new ReplayGuard(3);
    assert.equal(g.accept('a:1', 1n, 5n), true);
    assert.equal(g.accept('b:1', 1n, 5n), true, 'another sender');
    assert.equal(g.accept('a:1', 2n, 1n), true, 'a restart: a new epoch');
    assert.equal(g.accept('a:1', 1n, 5n), false, 'the old epoch is still remembered');
    assert.equal(g.size, 3);
    assert.equal(g.accept('c:1', 1n, 1n), true);
    assert.equal(g.size, 3, 'the least recently used window made room');
    assert.equal(g.accept('a:1', 1n, 5n), false, 'a window in use is kept');
  });
});

/**
 * SWIM membership over real UDP on 127.0.0.1 (port 0). Every wait is on membership events with a
 * deadline derived from the configured timing, never a sleep.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Member } from '../src/cluster/cluster-view.js';
import { SwimMembership } from '../src/cluster/swim-membership.js';
import { detectionBudgetMs, parseSwimTiming, type SwimTimingOptions } from '../src/cluster/swim-options.js';

process.env.ENGRAM_NATIVE = 'required';

const TIMING: SwimTimingOptions = { probePeriodMs: 200, probeTimeoutMs: 80, suspectToDownMs: 600, gossipPeriodMs: 100, announcePeriodMs: 1000 };
const KEY = 'cluster-secret';
// A busy 2-core CI machine may run timers late; the slack multiplies every budget.
const SLACK = 3;

const open: SwimMembership[] = [];
after(async () => {
  await Promise.all(open.map((m) => m.close()));
});

async function start(id: string, opts: { key?: string; port?: number; incarnation?: number } = {}): Promise<SwimMembership> {
  const m = await SwimMembership.start({
    ...TIMING,
    id,
    grpcAddress: `127.0.0.1:${50000 + open.length}`,
    gossipAddress: `127.0.0.1:${opts.port ?? 0}`,
    clusterKey: opts.key ?? KEY,
    ...(opts.incarnation === undefined ? {} : { incarnation: opts.incarnation }),
  });
  open.push(m);
  return m;
}

/** Resolves once `check()` holds, re-checking on every membership change of `watched`; rejects after `ms`. */
function until(watched: SwimMembership[], check: () => boolean, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onChange = (): void => {
      if (!check()) return;
      finish();
      resolve();
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`not within ${ms} ms: ${what}`));
    }, ms);
    const finish = (): void => {
      clearTimeout(timer);
      for (const m of watched) m.off('change', onChange);
    };
    for (const m of watched) m.on('change', onChange);
    onChange();
  });
}

const stateOf = (m: SwimMembership, id: string): string | undefined => m.members().find((x) => x.id === id)?.state;
const view = (m: SwimMembership): string[] => m.members().map((x) => `${x.id}=${x.state}`);
const timing = parseSwimTiming(TIMING);
const joinBudget = (n: number): number => SLACK * (timing.gossipPeriodMs * 2 * n + timing.probePeriodMs * n);

async function cluster(prefix: string, n: number): Promise<SwimMembership[]> {
  const members: SwimMembership[] = [];
  for (let i = 0; i < n; i++) members.push(await start(`${prefix}${i}`));
  for (const m of members.slice(1)) m.join([members[0]!.gossipAddress]);
  const ids = members.map((m) => m.self().id);
  await until(members, () => members.every((m) => ids.every((id) => stateOf(m, id) === 'alive')), joinBudget(n), `${n} members all alive`);
  return members;
}

describe('SWIM membership over UDP', () => {
  it('3 members form a cluster from one seed and agree on who is alive', async () => {
    const members = await cluster('a', 3);
    const expected = ['a0=alive', 'a1=alive', 'a2=alive'];
    for (const m of members) assert.deepEqual(view(m), expected);
    const a1 = members[0]!.members().find((x) => x.id === 'a1')!;
    assert.equal(a1.grpcAddress, members[1]!.self().grpcAddress);
    assert.equal(a1.gossipAddress, members[1]!.gossipAddress);
    await Promise.all(members.map((m) => m.close()));
  });

  it('5 members: a crashed member is down everywhere within the detection budget, and alive again after a restart with a new incarnation', async (t) => {
    const members = await cluster('b', 5);
    const victim = members[4]!;
    const { incarnation } = victim.self();
    const port = Number(victim.gossipAddress.split(':')[1]);
    const survivors = members.slice(0, 4);
    const downEvents: Member[] = [];
    survivors[0]!.on('member-down', (m: Member) => downEvents.push(m));

    const crashedAt = performance.now();
    await victim.close(); // no leave: the others only notice the silence
    const budget = detectionBudgetMs(timing, 5);
    await until(survivors, () => survivors.every((m) => stateOf(m, 'b4') === 'down'), SLACK * budget, 'b4 down everywhere');
    const detectedMs = Math.round(performance.now() - crashedAt);
    t.diagnostic(`detection time ${detectedMs} ms (budget ${budget} ms)`);
    assert.deepEqual(downEvents.map((m) => [m.id, m.state]), [['b4', 'down']]);

    const back = await start('b4', { port, incarnation: incarnation + 1 });
    back.join([members[0]!.gossipAddress]);
    const all = [...survivors, back];
    await until(all, () => all.every((m) => members.every((_, i) => stateOf(m, `b${i}`) === 'alive')), joinBudget(5), 'b4 alive again');
    for (const m of survivors) assert.equal(m.members().find((x) => x.id === 'b4')!.incarnation, incarnation + 1);
    await Promise.all(all.map((m) => m.close()));
  });

  it('a graceful leave is reported as left, not down', async () => {
    const members = await cluster('c', 3);
    const [a, b, leaver] = members as [SwimMembership, SwimMembership, SwimMembership];
    const seen: string[] = [];
    a.on('change', (m: Member) => m.id === 'c2' && seen.push(m.state));
    await leaver.leave();
    await until([a, b], () => stateOf(a, 'c2') === 'left' && stateOf(b, 'c2') === 'left', joinBudget(3), 'c2 left everywhere');
    assert.deepEqual(seen, ['left']);
    await Promise.all(members.map((m) => m.close()));
  });

  it('a member with the wrong cluster key never becomes a member and its datagrams are counted as dropped', async () => {
    const members = await cluster('d', 3);
    const stranger = await start('x', { key: 'wrong-key' });
    const friend = await start('d3');
    const seeds = members.map((m) => m.gossipAddress);
    stranger.join(seeds);
    friend.join(seeds);
    const all = [...members, friend];
    // The friend's announce went out after the stranger's: once the friend is in, the stranger's were handled.
    await until(all, () => all.every((m) => stateOf(m, 'd3') === 'alive'), joinBudget(4), 'd3 alive everywhere');
    for (const m of all) assert.equal(stateOf(m, 'x'), undefined);
    assert.deepEqual(view(stranger), ['x=alive']);
    assert.equal(members.reduce((n, m) => n + m.droppedPackets, 0), 3);
    assert.equal(friend.droppedPackets, 0);
    await Promise.all([...all, stranger].map((m) => m.close()));
  });

  it('rejects bad options before binding anything', async () => {
    await assert.rejects(start('e', { key: '' }), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(SwimMembership.start({ id: 'e', grpcAddress: 'x', gossipAddress: '127.0.0.1:0', clusterKey: KEY }), /grpcAddress/);
    assert.throws(() => parseSwimTiming({ probePeriodMs: 100, probeTimeoutMs: 100 }), /probeTimeoutMs/);
    assert.throws(() => parseSwimTiming({ suspectToDownMs: 0 }), /suspectToDownMs/);
  });
});

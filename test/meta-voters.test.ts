/**
 * Voter choice of the metadata group: who votes, who replaces a voter that is gone, and when.
 * Clock values are passed in, so "down for 60 s" is a number here, not a wait.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chooseVoters, META_GROUP, voterToReplace, type VoterCandidate, type VoterInput } from '../src/cluster/meta/index.js';
import { InvalidArgumentError } from '../src/errors.js';
import { rankNodes } from '../src/cluster/rendezvous.js';
import type { MemberState } from '../src/cluster/cluster-view.js';

const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];
/** Rendezvous order of NODES for the meta group, read from the (pinned) placement function. */
const RANKED = rankNodes(META_GROUP, NODES);
const raft = (id: string) => Number(id.slice(1)) * 100;
const alive = (ids: string[] = NODES): VoterCandidate[] => ids.map((nodeId) => ({ nodeId, raftId: raft(nodeId), state: 'alive' }));
const input = (candidates: VoterCandidate[], voters: string[], extra: Partial<VoterInput> = {}): VoterInput => ({
  candidates, voters: voters.map(raft), maxVoters: 3, nowMs: 1_000_000, reassignAfterMs: 60_000, ...extra,
});
const set = (ids: string[]) => ids.map(raft).sort((a, b) => a - b);
const withState = (cs: VoterCandidate[], id: string, state: MemberState, downSinceMs?: number) =>
  cs.map((c) => (c.nodeId === id ? { ...c, state, ...(downSinceMs !== undefined ? { downSinceMs } : {}) } : c));

describe('metadata voters', () => {
  it('a new cluster votes with the first members in rendezvous order, whatever order they are listed in', () => {
    assert.notDeepEqual(RANKED.slice(0, 3), NODES.slice(0, 3), 'the fixture needs an order that is not the listing order');
    assert.deepEqual(chooseVoters(input(alive(), [])), set(RANKED.slice(0, 3)));
    assert.deepEqual(chooseVoters(input(alive([...NODES].reverse()), [])), set(RANKED.slice(0, 3)));
    assert.deepEqual(chooseVoters(input(alive(['n1', 'n2']), [])), set(['n1', 'n2']), 'fewer members than voters: all of them');
    assert.deepEqual(chooseVoters(input(alive(), [], { maxVoters: 5 })), set(NODES));
  });

  it('keeps the current voters while they are alive or suspect, and fills with alive members only', () => {
    const low = RANKED.slice(3); // the two lowest-ranked: never chosen on a fresh start
    assert.deepEqual(chooseVoters(input(alive(), low)), set([...low, RANKED[0]!]));
    const suspectVoter = withState(alive(), low[0]!, 'suspect');
    assert.deepEqual(chooseVoters(input(suspectVoter, low)), set([...low, RANKED[0]!]));
    const suspectTop = withState(alive(), RANKED[0]!, 'suspect');
    assert.deepEqual(chooseVoters(input(suspectTop, low)), set([...low, RANKED[1]!]), 'a suspect is not made a voter');
  });

  it('a voter down for less than reassign-after stays; from reassign-after on it is replaced by the next live member', () => {
    const [a, b, c, d] = RANKED;
    const down = (since: number) => withState(alive(), a!, 'down', since);
    const justInside = input(down(1_000_000 - 59_999), [a!, b!, c!]);
    assert.deepEqual(chooseVoters(justInside), set([a!, b!, c!]));
    assert.equal(voterToReplace(justInside), null);
    const atLimit = input(down(1_000_000 - 60_000), [a!, b!, c!]);
    assert.deepEqual(chooseVoters(atLimit), set([b!, c!, d!]));
    assert.deepEqual(voterToReplace(atLimit), { remove: raft(a!), reason: 'down', add: raft(d!) });
  });

  it('replaces a voter that left, or that is gone, without waiting', () => {
    const [a, b, c, d] = RANKED;
    assert.deepEqual(voterToReplace(input(withState(alive(), b!, 'left'), [a!, b!, c!])), { remove: raft(b!), reason: 'left', add: raft(d!) });
    // c's disk was wiped: it is back, alive, as a new peer; its old raft id is nobody's.
    const wiped = alive().map((x) => (x.nodeId === c ? { ...x, raftId: 777 } : x));
    const r = voterToReplace(input(wiped, [a!, b!, c!]));
    assert.deepEqual(r, { remove: raft(c!), reason: 'gone', add: 777 }, 'the node itself may vote again, as the new peer');
  });

  it('takes the gone voter first, then the one that left, then the one down longest', () => {
    const [a, b, c, d, e] = RANKED;
    let cs = withState(alive(), b!, 'down', 0);
    cs = withState(cs, c!, 'down', 10);
    const voters = [a!, b!, c!, d!, e!];
    const five = (x: VoterCandidate[]) => input(x, voters, { maxVoters: 5 });
    assert.equal(voterToReplace(five(cs))?.remove, raft(b!));
    assert.equal(voterToReplace(five(withState(cs, e!, 'left')))?.remove, raft(e!));
    assert.equal(voterToReplace(five(withState(cs, e!, 'left').filter((x) => x.nodeId !== d)))?.remove, raft(d!));
  });

  it('with no live member to take its place, says so (add: null) instead of shrinking the group', () => {
    const cs = withState(alive(['n1', 'n2', 'n3']), 'n2', 'down', 0);
    assert.deepEqual(voterToReplace(input(cs, ['n1', 'n2', 'n3'])), { remove: raft('n2'), reason: 'down', add: null });
  });

  it('a lower --meta-voters keeps the highest-ranked current voters', () => {
    assert.deepEqual(chooseVoters(input(alive(), NODES)), set(RANKED.slice(0, 3)));
  });

  it('refuses input it cannot reason about', () => {
    const bad = (extra: Partial<VoterInput>, field: string) =>
      assert.throws(() => chooseVoters(input(alive(), [], extra)), (e: unknown) => e instanceof InvalidArgumentError && e.field === field);
    bad({ maxVoters: 0 }, 'maxVoters');
    bad({ reassignAfterMs: -1 }, 'reassignAfterMs');
    bad({ nowMs: Number.NaN }, 'nowMs');
    bad({ candidates: [...alive(), { nodeId: 'n1', raftId: 1, state: 'alive' }] }, 'candidates[5].nodeId');
    bad({ candidates: [...alive(), { nodeId: 'n9', raftId: 100, state: 'alive' }] }, 'candidates[5].raftId');
    bad({ candidates: [{ nodeId: 'n1', raftId: 1, state: 'down' }] }, 'candidates[0].downSinceMs');
  });

  it('property: at most maxVoters, every kept voter still counts, every new one alive, the same for any listing order', () => {
    const stateArb = fc.constantFrom<MemberState>('alive', 'alive', 'suspect', 'down', 'left');
    const caseArb = fc.record({
      states: fc.array(fc.tuple(stateArb, fc.integer({ min: 0, max: 120_000 })), { minLength: 5, maxLength: 5 }),
      voters: fc.subarray(NODES),
      // A voter whose member is gone (wiped, removed).
      gone: fc.boolean(),
      maxVoters: fc.integer({ min: 1, max: 5 }),
      order: fc.shuffledSubarray([0, 1, 2, 3, 4], { minLength: 5, maxLength: 5 }),
    });
    fc.assert(fc.property(caseArb, ({ states, voters, gone, maxVoters, order }) => {
      const candidates = NODES.map((nodeId, i) => ({ nodeId, raftId: raft(nodeId), state: states[i]![0], downSinceMs: states[i]![1] }));
      const v = input(candidates, voters, { maxVoters, nowMs: 120_000 });
      const withGone = gone ? { ...v, voters: [...v.voters, 42] } : v;
      const chosen = chooseVoters(withGone);
      assert.ok(chosen.length <= maxVoters);
      assert.deepEqual(chooseVoters({ ...withGone, candidates: order.map((i) => candidates[i]!) }), chosen);
      const counts = (c: VoterCandidate) => c.state === 'alive' || c.state === 'suspect' || (c.state === 'down' && 120_000 - c.downSinceMs! < 60_000);
      const keptCount = candidates.filter((c) => voters.includes(c.nodeId) && counts(c)).length;
      for (const id of chosen) {
        const c = candidates.find((x) => x.raftId === id)!;
        assert.ok(voters.includes(c.nodeId) ? counts(c) : c.state === 'alive', `${c.nodeId} (${c.state}) chosen`);
      }
      if (keptCount <= maxVoters) {
        for (const c of candidates) if (voters.includes(c.nodeId) && counts(c)) assert.ok(chosen.includes(c.raftId), `voter ${c.nodeId} kept`);
      }
      assert.ok(!chosen.includes(42));
      const step = voterToReplace(withGone);
      if (step) {
        assert.ok(withGone.voters.includes(step.remove) && !chosen.includes(step.remove));
        if (step.add !== null) assert.ok(chosen.includes(step.add) && !withGone.voters.includes(step.add));
      } else {
        assert.ok(withGone.voters.every((id) => candidates.some((c) => c.raftId === id && counts(c))), 'null only when every voter counts');
      }
    }), { numRuns: 300 });
  });
});

/** Copy allocation (src/cluster/allocation.ts): which copy the metadata leader moves next. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nextMove, type AllocationMember } from '../src/cluster/allocation.js';
import { rankNodes } from '../src/cluster/rendezvous.js';

const alive = (...ids: string[]): AllocationMember[] => ids.map((nodeId) => ({ nodeId, state: 'alive' as const }));
const none = new Map<string, number>();

describe('nextMove', () => {
  it('replaces a copy whose node stayed down past reassignAfter, on a live member in rendezvous order', () => {
    const members = [...alive('n1', 'n2', 'n4', 'n5'), { nodeId: 'n3', state: 'down' as const, downSinceMs: 1_000 }];
    const spaces = [{ id: 'notes', copies: ['n1', 'n2', 'n3'] }];
    assert.equal(nextMove({ spaces, members, nowMs: 1_500, reassignAfterMs: 2_000, lastReceivedMs: none }), undefined, 'not yet: down for 500 ms only');
    const move = nextMove({ spaces, members, nowMs: 3_000, reassignAfterMs: 2_000, lastReceivedMs: none });
    const to = rankNodes('notes', ['n4', 'n5'])[0]!;
    assert.deepEqual(move, { space: 'notes', expected: ['n1', 'n2', 'n3'], copies: ['n1', 'n2', to], from: 'n3', to, why: 'copy lost' });
  });

  it('replaces a copy of a node that is no member any more at once; one that left (a restart, often) after reassignAfter', () => {
    const spaces = [{ id: 'notes', copies: ['n1', 'gone'] }, { id: 'other', copies: ['n2', 'n3'] }];
    const members = [...alive('n1', 'n2', 'n4'), { nodeId: 'n3', state: 'left' as const, downSinceMs: 0 }];
    const move = nextMove({ spaces, members, nowMs: 0, reassignAfterMs: 60_000, lastReceivedMs: none })!;
    assert.equal(move.space, 'notes');
    assert.equal(move.from, 'gone');
    assert.ok(['n2', 'n4'].includes(move.to));
    const only = [{ id: 'other', copies: ['n2', 'n3'] }];
    assert.equal(nextMove({ spaces: only, members, nowMs: 59_000, reassignAfterMs: 60_000, lastReceivedMs: none }), undefined, 'left 59 s ago: not yet');
    assert.equal(nextMove({ spaces: only, members, nowMs: 60_000, reassignAfterMs: 60_000, lastReceivedMs: none })?.from, 'n3');
  });

  it('gives a member at most one new copy per throttle period', () => {
    const spaces = [{ id: 'a', copies: ['n1', 'n3'] }, { id: 'b', copies: ['n2', 'n3'] }];
    const members = [...alive('n1', 'n2', 'n4'), { nodeId: 'n3', state: 'left' as const, downSinceMs: 0 }];
    const last = new Map([['n4', 0]]);
    const move = nextMove({ spaces, members, nowMs: 1_000, reassignAfterMs: 0, lastReceivedMs: last, throttleMs: 5_000 });
    // n4 just received one: the only other candidate for "a" is n2.
    assert.deepEqual([move?.space, move?.to], ['a', 'n2']);
    assert.equal(nextMove({ spaces: [{ id: 'b', copies: ['n2', 'n3'] }], members, nowMs: 1_000, reassignAfterMs: 0, lastReceivedMs: last, throttleMs: 5_000 })?.to, 'n1');
  });

  it('moves copies to a member that joined until copies per member differ by at most one', () => {
    let spaces = Array.from({ length: 6 }, (_, i) => ({ id: `s${i}`, copies: ['n1', 'n2', 'n3'] }));
    const members = alive('n1', 'n2', 'n3', 'n4');
    let moves = 0;
    for (let now = 0; ; now += 10_000) {
      const move = nextMove({ spaces, members, nowMs: now, reassignAfterMs: 60_000, lastReceivedMs: none });
      if (!move) break;
      assert.equal(move.why, 'balance');
      assert.equal(move.to, 'n4');
      spaces = spaces.map((s) => (s.id === move.space ? { id: s.id, copies: move.copies } : s));
      moves++;
      assert.ok(moves < 10, 'balance converges');
    }
    const load = new Map<string, number>();
    for (const s of spaces) for (const c of s.copies) load.set(c, (load.get(c) ?? 0) + 1);
    assert.ok(Math.max(...load.values()) - Math.min(...load.values()) <= 1, JSON.stringify([...load]));
    assert.equal(moves, 4);
    assert.ok(spaces.every((s) => new Set(s.copies).size === 3), 'never two copies on one member');
  });

  it('with balance off, only replaces lost copies', () => {
    const spaces = Array.from({ length: 6 }, (_, i) => ({ id: `s${i}`, copies: ['n1', 'n2', 'n3'] }));
    assert.equal(nextMove({ spaces, members: alive('n1', 'n2', 'n3', 'n4'), nowMs: 0, reassignAfterMs: 0, lastReceivedMs: none, balance: false }), undefined);
    const lost = nextMove({ spaces, members: [...alive('n1', 'n2', 'n4'), { nodeId: 'n3', state: 'left', downSinceMs: 0 }], nowMs: 0, reassignAfterMs: 0, lastReceivedMs: none, balance: false });
    assert.equal(lost?.to, 'n4');
  });

  it('does not balance while a member is down: a move then could cost a second copy', () => {
    const spaces = Array.from({ length: 6 }, (_, i) => ({ id: `s${i}`, copies: ['n1', 'n2', 'n3'] }));
    const members = [...alive('n1', 'n2', 'n3', 'n4'), { nodeId: 'n5', state: 'down' as const, downSinceMs: 0 }];
    assert.equal(nextMove({ spaces, members, nowMs: 1_000, reassignAfterMs: 60_000, lastReceivedMs: none }), undefined);
  });
});

/** Rendezvous placement: pinned scores, spread, minimal movement, clamping and explicit placement. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../src/errors.js';
import type { MemberState } from '../src/cluster/cluster-view.js';
import {
  DEFAULT_REPLICATION_FACTOR,
  fnv1a64,
  placeSpace,
  placementCandidates,
  rankNodes,
  rendezvousScore,
  resolvePlacement,
} from '../src/cluster/rendezvous.js';

const alive = (...ids: string[]) => ids.map((id) => ({ id, state: 'alive' as MemberState }));
const nodes = (n: number) => Array.from({ length: n }, (_, i) => `node-${i + 1}`);
const spaces = Array.from({ length: 10_000 }, (_, i) => `space-${i}`);

describe('rendezvous score', () => {
  it('uses FNV-1a 64 (published test vectors)', () => {
    const utf8 = (s: string) => new TextEncoder().encode(s);
    assert.equal(fnv1a64(utf8('')), 0xcbf29ce484222325n);
    assert.equal(fnv1a64(utf8('a')), 0xaf63dc4c8601ec8cn);
    assert.equal(fnv1a64(utf8('foobar')), 0x85944171f73967e8n);
  });

  it('matches values pinned from an independent implementation (changing them moves every space)', () => {
    assert.equal(rendezvousScore('space-a', 'node-1'), 0xee4a7094a13368f3n);
    assert.equal(rendezvousScore('space-a', 'node-2'), 0x2e8db97a11156ab4n);
    assert.equal(rendezvousScore('', ''), 0xb9034ad37056f5fbn);
    assert.equal(rendezvousScore('mémoire', 'nœud-7'), 0xb8f3dcf52be20271n);
  });

  it('keeps the space and node apart (the separator)', () => {
    assert.notEqual(rendezvousScore('ab', 'c'), rendezvousScore('a', 'bc'));
  });

  it('ranks the same whatever the input order, and drops duplicates', () => {
    assert.deepEqual(rankNodes('space-a', nodes(5)), ['node-1', 'node-5', 'node-3', 'node-4', 'node-2']);
    assert.deepEqual(rankNodes('space-a', [...nodes(5)].reverse()), rankNodes('space-a', nodes(5)));
    assert.deepEqual(rankNodes('space-a', ['node-2', 'node-1', 'node-2']), ['node-1', 'node-2']);
  });
});

describe('placeSpace', () => {
  it('spreads 10,000 primaries evenly over 5 nodes (each within 10% of a fifth)', () => {
    const count = new Map<string, number>();
    for (const s of spaces) {
      const { primary } = placeSpace(s, alive(...nodes(5)));
      count.set(primary, (count.get(primary) ?? 0) + 1);
    }
    assert.equal(count.size, 5);
    for (const [node, n] of count) assert.ok(Math.abs(n - 2_000) <= 200, `${node} is primary of ${n} spaces`);
  });

  it('moves only the spaces whose top node changed when a node joins or goes', () => {
    const before = new Map(spaces.map((s) => [s, placeSpace(s, alive(...nodes(5)), 1).primary]));
    const joined = new Map(spaces.map((s) => [s, placeSpace(s, alive(...nodes(6)), 1).primary]));
    let moved = 0;
    for (const s of spaces) {
      if (joined.get(s) === before.get(s)) continue;
      moved++;
      assert.equal(joined.get(s), 'node-6', `${s} moved between old nodes`);
    }
    assert.ok(Math.abs(moved - 10_000 / 6) <= 10_000 / 6 / 10, `${moved} of 10,000 moved to the new node`);

    const remaining = alive(...nodes(5).filter((n) => n !== 'node-3'));
    for (const s of spaces) {
      const after = placeSpace(s, remaining, 1).primary;
      if (before.get(s) !== 'node-3') assert.equal(after, before.get(s), `${s} moved though its primary stayed`);
    }
  });

  it('takes replicas in rank order, never the primary, with 3 copies by default', () => {
    assert.equal(DEFAULT_REPLICATION_FACTOR, 3);
    const p = placeSpace('space-a', alive(...nodes(5)));
    assert.deepEqual(p, { primary: 'node-1', replicas: ['node-5', 'node-3'] });
    assert.deepEqual(placeSpace('space-a', alive(...nodes(5)), 4), { primary: 'node-1', replicas: ['node-5', 'node-3', 'node-4'] });
  });

  it('clamps the copies to the members that can hold one', () => {
    assert.deepEqual(placeSpace('space-a', alive('node-1', 'node-2', 'node-3'), 5).replicas.length, 2);
    assert.deepEqual(placeSpace('space-a', alive('node-2'), 3), { primary: 'node-2', replicas: [] });
  });

  it('places on alive and suspect members, never on down or left ones', () => {
    const members = [
      { id: 'node-1', state: 'down' as const },
      { id: 'node-5', state: 'left' as const },
      { id: 'node-3', state: 'suspect' as const },
      { id: 'node-4', state: 'alive' as const },
    ];
    assert.deepEqual(placementCandidates(members), ['node-3', 'node-4']);
    assert.deepEqual(placeSpace('space-a', members, 3), { primary: 'node-3', replicas: ['node-4'] });
  });

  it('rejects a replication factor that is not an integer ≥ 1 (0 included) and an empty cluster', () => {
    for (const rf of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => placeSpace('s', alive('a'), rf), (e: unknown) => e instanceof InvalidArgumentError && e.field === 'replicationFactor');
    }
    assert.throws(() => placeSpace('s', [{ id: 'a', state: 'down' }]), (e: unknown) => e instanceof InvalidArgumentError && e.field === 'members');
  });
});

describe('resolvePlacement (explicit placement on create)', () => {
  const members = [...alive('node-1', 'node-2', 'node-3'), { id: 'node-4', state: 'down' as const }, { id: 'node-5', state: 'left' as const }];

  it('uses rendezvous when nothing is given', () => {
    assert.deepEqual(resolvePlacement('space-a', members), placeSpace('space-a', members));
  });

  it('uses the given primary and replicas exactly, in their order', () => {
    assert.deepEqual(resolvePlacement('space-a', members, { primary: 'node-2', replicas: ['node-3', 'node-1'] }), {
      primary: 'node-2',
      replicas: ['node-3', 'node-1'],
    });
    assert.deepEqual(resolvePlacement('space-a', members, { primary: 'node-2', replicas: [] }), { primary: 'node-2', replicas: [] });
  });

  it('fills the replicas by rendezvous, skipping the given primary, when only the primary is given', () => {
    const p = resolvePlacement('space-a', members, { primary: 'node-3', replicationFactor: 3 });
    assert.equal(p.primary, 'node-3');
    assert.deepEqual(p.replicas, rankNodes('space-a', ['node-1', 'node-2']));
  });

  it('rejects unknown, left, down, repeated nodes, the primary as a replica, and replicas without a primary', () => {
    const rejects = (request: Parameters<typeof resolvePlacement>[2], field: string, reason: RegExp) =>
      assert.throws(
        () => resolvePlacement('space-a', members, request),
        (e: unknown) => e instanceof InvalidArgumentError && e.field === field && reason.test(e.message),
      );
    rejects({ primary: 'node-9' }, 'primary', /not a member/);
    rejects({ primary: 'node-5' }, 'primary', /not a member/);
    rejects({ primary: 'node-4' }, 'primary', /is down/);
    rejects({ primary: 'node-1', replicas: ['node-2', 'node-2'] }, 'replicas[1]', /named twice/);
    rejects({ primary: 'node-1', replicas: ['node-1'] }, 'replicas[0]', /also the primary/);
    rejects({ primary: 'node-1', replicas: ['node-4'] }, 'replicas[0]', /is down/);
    rejects({ replicas: ['node-1'] }, 'replicas', /without a primary/);
    rejects({ primary: 'node-1', replicationFactor: 0 }, 'replicationFactor', /≥ 1/);
  });
});

/** The versioned assignment table: immutable changes, canonical digest, convergent merge, strict parsing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../src/errors.js';
import { AssignmentTable, lostEntries, mergeTables } from '../src/cluster/assignment-table.js';
import { StaticClusterView } from '../src/cluster/cluster-view.js';
import { prng } from '../src/util/prng.js';

const two = () => AssignmentTable.empty().assign('beta', { primary: 'node-2', replicas: ['node-1'] }).assign('alpha', { primary: 'node-1', replicas: [] });


function randomTable(rand: () => number): AssignmentTable {
  let t = AssignmentTable.empty();
  const changes = Math.floor(rand() * 4); // few changes, so equal versions with different content are common
  for (let i = 0; i < changes; i++) {
    const primary = `node-${Math.floor(rand() * 3)}`;
    const replicas = rand() < 0.5 ? [] : ['node-9'];
    t = t.assign(`space-${Math.floor(rand() * 3)}`, { primary, replicas });
  }
  return t;
}

describe('AssignmentTable', () => {
  it('starts empty at version 0, and each assign returns a new table one version up', () => {
    const empty = AssignmentTable.empty();
    const one = empty.assign('alpha', { primary: 'node-1', replicas: ['node-2'] });
    assert.equal(empty.version, 0);
    assert.equal(empty.size, 0);
    assert.equal(one.version, 1);
    assert.deepEqual(one.get('alpha'), { space: 'alpha', primary: 'node-1', replicas: ['node-2'], dimension: 768, version: 1 });
    const moved = one.assign('alpha', { primary: 'node-2', replicas: [] });
    assert.equal(moved.version, 2);
    assert.equal(moved.get('alpha')?.primary, 'node-2');
    assert.equal(one.get('alpha')?.primary, 'node-1', 'the older table changed');
  });

  it('returns the same table when the placement is already current (no version churn)', () => {
    const t = two();
    assert.equal(t.assign('beta', { primary: 'node-2', replicas: ['node-1'] }), t);
    assert.notEqual(t.assign('beta', { primary: 'node-2', replicas: [] }), t);
    // The dimension is part of the entry: another one is a change, the same one is not.
    assert.equal(t.assign('beta', { primary: 'node-2', replicas: ['node-1'], dimension: 768 }), t);
    assert.equal(t.assign('beta', { primary: 'node-2', replicas: ['node-1'], dimension: 64 }).get('beta')?.dimension, 64);
    assert.throws(() => t.assign('beta', { primary: 'node-2', replicas: [], dimension: 0 }), /placement\.dimension/);
  });

  it('does not share or expose mutable state', () => {
    const replicas = ['node-2'];
    const t = AssignmentTable.empty().assign('alpha', { primary: 'node-1', replicas });
    replicas.push('node-3');
    assert.deepEqual(t.get('alpha')?.replicas, ['node-2']);
    assert.throws(() => (t.get('alpha')?.replicas as string[]).push('x'), TypeError);
    assert.throws(() => ((t.get('alpha') as { primary: string }).primary = 'x'), TypeError);
  });

  it('rejects a bad placement without changing anything', () => {
    const t = two();
    assert.throws(() => t.assign('', { primary: 'node-1', replicas: [] }), InvalidArgumentError);
    assert.throws(() => t.assign('gamma', { primary: '', replicas: [] }), InvalidArgumentError);
    assert.throws(() => t.assign('gamma', { primary: 'node-1', replicas: ['node-1'] }), /also the primary/);
    assert.throws(() => t.assign('gamma', { primary: 'node-1', replicas: ['node-2', 'node-2'] }), /named twice/);
    assert.equal(t.version, 2);
    assert.equal(t.get('gamma'), undefined);
  });

  it('has a canonical form sorted by space and a digest pinned to its SHA-256', () => {
    const t = two();
    const canonical =
      '{"version":2,"entries":[{"space":"alpha","primary":"node-1","replicas":[],"dimension":768,"version":2},{"space":"beta","primary":"node-2","replicas":["node-1"],"dimension":768,"version":1}]}';
    assert.equal(JSON.stringify(t), canonical);
    assert.equal(t.digest(), 'db3670a157744c337ffd80b23826b7655c6bd1da1423f6c1f18e83bb5538138f');
    const shuffled = AssignmentTable.fromJSON({ ...t.toJSON(), entries: [...t.toJSON().entries].reverse() });
    assert.equal(shuffled.digest(), t.digest());
    assert.ok(shuffled.equals(t));
  });
});

describe('mergeTables', () => {
  it('takes the higher version whole', () => {
    const older = two();
    const newer = older.assign('gamma', { primary: 'node-3', replicas: [] });
    assert.equal(mergeTables(older, newer), newer);
    assert.equal(mergeTables(newer, older), newer);
  });

  it('resolves equal versions with different content by the greater digest, the same on both sides', () => {
    const base = two();
    const a = base.assign('gamma', { primary: 'node-1', replicas: [] });
    const b = base.assign('delta', { primary: 'node-2', replicas: [] });
    assert.equal(a.version, b.version);
    const winner = a.digest() > b.digest() ? a : b;
    assert.equal(mergeTables(a, b), winner);
    assert.equal(mergeTables(b, a), winner);
  });

  it('is commutative, associative and idempotent over random tables', () => {
    const rand = prng(20240611);
    let ties = 0;
    for (let i = 0; i < 300; i++) {
      const [a, b, c] = [randomTable(rand), randomTable(rand), randomTable(rand)];
      if (a.version === b.version && a.digest() !== b.digest()) ties++;
      assert.ok(mergeTables(a, b).equals(mergeTables(b, a)), `not commutative: ${JSON.stringify([a, b])}`);
      assert.ok(mergeTables(a, a).equals(a));
      assert.ok(mergeTables(mergeTables(a, b), c).equals(mergeTables(a, mergeTables(b, c))), 'not associative');
      const m = mergeTables(a, b);
      assert.ok(m.equals(a) || m.equals(b), 'merge invented a table');
    }
    assert.ok(ties > 20, `only ${ties} equal-version conflicts exercised`);
  });

  it('lostEntries lists what the losing side must assign again', () => {
    const base = two();
    const a = base.assign('gamma', { primary: 'node-1', replicas: [] });
    const b = base.assign('delta', { primary: 'node-2', replicas: [] });
    const merged = mergeTables(a, b);
    const [loser, lost] = merged === a ? [b, 'delta'] : [a, 'gamma'];
    assert.deepEqual(lostEntries(loser, merged).map((e) => e.space), [lost]);
    assert.deepEqual(lostEntries(merged, merged), []);
  });
});

describe('AssignmentTable JSON', () => {
  it('round-trips through JSON text', () => {
    const t = two().assign('gamma', { primary: 'node-3', replicas: ['node-1', 'node-2'] });
    const back = AssignmentTable.fromJSON(JSON.parse(JSON.stringify(t)));
    assert.deepEqual(back.toJSON(), t.toJSON());
    assert.equal(back.digest(), t.digest());
    assert.ok(AssignmentTable.fromJSON({ version: 0, entries: [] }).equals(AssignmentTable.empty()));
  });

  it('rejects malformed input with the field that was wrong', () => {
    const good = two().toJSON();
    const entry = (patch: Record<string, unknown>) => ({ ...good, entries: [{ ...good.entries[0], ...patch }] });
    const cases: [unknown, string][] = [
      [null, 'table'],
      [[good], 'table'],
      ['{}', 'table'],
      [{ ...good, version: -1 }, 'table.version'],
      [{ ...good, version: 1.5 }, 'table.version'],
      [{ ...good, version: '2' }, 'table.version'],
      [{ ...good, version: 2 ** 60 }, 'table.version'],
      [{ version: 2 }, 'table.entries'],
      [{ ...good, entries: [null] }, 'table.entries[0]'],
      [entry({ space: '' }), 'table.entries[0].space'],
      [entry({ space: 7 }), 'table.entries[0].space'],
      [entry({ primary: undefined }), 'table.entries[0].primary'],
      [entry({ replicas: 'node-2' }), 'table.entries[0].replicas'],
      [entry({ replicas: [3] }), 'table.entries[0].replicas[0]'],
      [entry({ replicas: ['node-1'] }), 'table.entries[0].replicas[0]'],
      [entry({ replicas: ['node-3', 'node-3'] }), 'table.entries[0].replicas[1]'],
      [entry({ version: 0 }), 'table.entries[0].version'],
      [entry({ dimension: 0 }), 'table.entries[0].dimension'],
      [entry({ dimension: 'x' }), 'table.entries[0].dimension'],
      [entry({ version: 3 }), 'table.entries[0].version'],
      [{ ...good, entries: [good.entries[0], good.entries[0]] }, 'table.entries[1].space'],
    ];
    for (const [input, field] of cases) {
      assert.throws(
        () => AssignmentTable.fromJSON(input),
        (e: unknown) => e instanceof InvalidArgumentError && e.field === field,
        `expected a rejection at ${field} for ${JSON.stringify(input)}`,
      );
    }
  });
});

describe('StaticClusterView', () => {
  const member = (id: string) => ({ id, grpcAddress: `127.0.0.1:1${id.length}`, gossipAddress: '127.0.0.1:2', state: 'alive' as const, incarnation: 1 });

  it('serves the members and assignments it was given, copied from the caller', () => {
    const members = [member('node-1'), member('node-2')];
    const view = new StaticClusterView({ self: 'node-2', members, assignments: two().entries(), partitioned: true });
    (members[1] as { state: string }).state = 'down';
    (members[0] as { id: string }).id = 'changed';
    assert.equal(view.self().state, 'alive');
    assert.equal(view.self().id, 'node-2');
    assert.deepEqual(view.members().map((m) => m.id), ['node-1', 'node-2']);
    assert.equal(view.member('node-3'), undefined);
    assert.deepEqual(view.assignment('beta'), { space: 'beta', primary: 'node-2', replicas: ['node-1'], dimension: 768, version: 1 });
    assert.equal(view.assignment('gamma'), undefined);
    assert.equal(view.isPartitioned(), true);
  });

  it('rejects a self that is not a member and duplicate ids', () => {
    assert.throws(() => new StaticClusterView({ self: 'x', members: [member('node-1')] }), InvalidArgumentError);
    assert.throws(() => new StaticClusterView({ self: 'node-1', members: [member('node-1'), member('node-1')] }), InvalidArgumentError);
  });
});

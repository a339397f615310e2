/**
 * The metadata state machine, command by command: what a proposer gets back and what every node
 * then holds. The orderings here are ones a real cluster produces (a create racing a removal, a
 * wiped node rejoining, two creates of one space).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MetaDecodeError, MetaState, type MetaCommand, type MetaMember, type MetaResult } from '../src/cluster/meta/index.js';

const CLUSTER = '3b241101-e2bb-4255-8caf-4136c566a962';
const OTHER_CLUSTER = '9d5ed678-fe57-4cca-b6bd-0e6a6d8c1a11';
const storage = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const member = (id: string, n: number, raftId = n): MetaMember => ({
  nodeId: id, storageId: storage(n), raftId, grpcAddress: `10.0.0.${n}:7001`, gossipAddress: `10.0.0.${n}:7946`,
});
let seq = 0;
const rid = () => `r${++seq}`;

/** A bootstrapped state with members n1..n{count}. */
function cluster(count = 3): MetaState {
  const s = MetaState.empty();
  ok(s.apply({ kind: 'bootstrap', requestId: rid(), clusterId: CLUSTER, member: member('n1', 1) }));
  for (let i = 2; i <= count; i++) ok(s.apply({ kind: 'joinMember', requestId: rid(), member: member(`n${i}`, i) }));
  return s;
}

function ok(r: MetaResult): Extract<MetaResult, { status: 'ok' }> {
  assert.equal(r.status, 'ok', JSON.stringify(r));
  return r as Extract<MetaResult, { status: 'ok' }>;
}

function create(space: string, dimension: number, copies: string[], requestId = rid()): MetaCommand {
  return { kind: 'createSpace', requestId, space, dimension, copies };
}

describe('metadata state', () => {
  it('starts empty; before bootstrap only the group configuration applies', () => {
    const s = MetaState.empty();
    assert.equal(s.clusterId, null);
    const r = s.apply({ kind: 'joinMember', requestId: 'j', member: member('n1', 1) });
    assert.deepEqual([r.status, r.status === 'rejected' && r.reason, r.requestId], ['rejected', 'notBootstrapped', 'j']);
    // The bootstrap conf change entries come before the bootstrap command in the log.
    ok(s.apply({ kind: 'metaConfig', requestId: 'c', voters: [1], learners: [] }));
    assert.deepEqual(s.voters(), [1]);
    assert.deepEqual(s.members(), []);
  });

  it('bootstrap makes the cluster once: the same id again is "exists", another id is refused', () => {
    const s = MetaState.empty();
    const first = ok(s.apply({ kind: 'bootstrap', requestId: 'b1', clusterId: CLUSTER, member: member('n1', 1) }));
    assert.equal(first.changed, true);
    assert.equal(s.clusterId, CLUSTER);
    assert.deepEqual(s.members(), [member('n1', 1)]);
    const digest = s.digest();
    assert.deepEqual(s.apply({ kind: 'bootstrap', requestId: 'b2', clusterId: CLUSTER, member: member('n9', 9) }), {
      status: 'exists', requestId: 'b2', kind: 'bootstrap', clusterId: CLUSTER,
    });
    const other = s.apply({ kind: 'bootstrap', requestId: 'b3', clusterId: OTHER_CLUSTER, member: member('n1', 1) });
    assert.equal(other.status === 'rejected' && other.reason, 'otherCluster');
    assert.equal(s.digest(), digest, 'neither changed anything');
  });

  it('a member joins, updates its addresses, and after a wiped disk takes a new storage id and raft id', () => {
    const s = cluster(2);
    const moved = { ...member('n2', 2), grpcAddress: '10.9.9.9:7001' };
    assert.equal(ok(s.apply({ kind: 'joinMember', requestId: rid(), member: moved })).changed, true);
    assert.equal(ok(s.apply({ kind: 'joinMember', requestId: rid(), member: moved })).changed, false, 'the same again changes nothing');
    const wiped = { ...moved, storageId: storage(22), raftId: 22 };
    ok(s.apply({ kind: 'joinMember', requestId: rid(), member: wiped }));
    assert.deepEqual(s.member('n2'), wiped);
    assert.equal(s.memberByRaftId(22)?.nodeId, 'n2');
    assert.equal(s.memberByRaftId(2), undefined, 'the old peer id belongs to nobody now');
  });

  it('refuses a member whose raft id another node holds', () => {
    const s = cluster(2);
    const r = s.apply({ kind: 'joinMember', requestId: 'x', member: member('n3', 3, 2) });
    assert.equal(r.status === 'rejected' && r.reason, 'raftIdInUse');
    assert.equal(s.member('n3'), undefined);
  });

  it('removes a member, says which spaces still list it, and is a no-op for a stranger', () => {
    const s = cluster(3);
    ok(s.apply(create('alpha', 8, ['n1', 'n2'])));
    ok(s.apply(create('beta', 8, ['n3'])));
    const r = ok(s.apply({ kind: 'removeMember', requestId: rid(), nodeId: 'n2' }));
    assert.deepEqual([r.changed, r.member?.nodeId, r.heldCopiesOf], [true, 'n2', ['alpha']]);
    assert.deepEqual(s.space('alpha')?.copies, ['n1', 'n2'], 'copies stay until allocation moves them');
    assert.equal(ok(s.apply({ kind: 'removeMember', requestId: rid(), nodeId: 'n2' })).changed, false);
  });

  describe('createSpace is a compare-and-set', () => {
    it('a new space is placed on the proposed copies, primary first, which is also the leader hint', () => {
      const s = cluster(3);
      const r = ok(s.apply(create('alpha', 16, ['n3', 'n1'], 'mine')));
      assert.equal(r.requestId, 'mine');
      assert.deepEqual(r.space, { id: 'alpha', dimension: 16, copies: ['n3', 'n1'], leaderHint: 'n3' });
      assert.deepEqual(s.space('alpha'), r.space);
    });

    it('the same id and dimension again is "exists" with the entry as it is', () => {
      const s = cluster(3);
      ok(s.apply(create('alpha', 16, ['n1', 'n2'])));
      const digest = s.digest();
      const r = s.apply(create('alpha', 16, ['n3'], 'again'));
      assert.deepEqual(r, { status: 'exists', requestId: 'again', kind: 'createSpace', space: { id: 'alpha', dimension: 16, copies: ['n1', 'n2'], leaderHint: 'n1' } });
      assert.equal(s.digest(), digest);
    });

    it('another dimension is a conflict naming the existing dimension, and changes nothing', () => {
      const s = cluster(3);
      ok(s.apply(create('alpha', 16, ['n1', 'n2'])));
      const digest = s.digest();
      const r = s.apply(create('alpha', 8, ['n1', 'n2'], 'late'));
      assert.equal(r.status, 'conflict');
      assert.deepEqual(r.status === 'conflict' && [r.requestId, r.existingDimension, r.requestedDimension, r.space.dimension], ['late', 16, 8, 16]);
      assert.equal(s.digest(), digest);
    });

    it('a placement computed before a member was removed is refused at apply, naming the node', () => {
      const s = cluster(3);
      const stale = create('alpha', 8, ['n2', 'n3']); // proposed while n3 was a member
      ok(s.apply({ kind: 'removeMember', requestId: rid(), nodeId: 'n3' }));
      const r = s.apply(stale);
      assert.equal(r.status, 'rejected');
      assert.deepEqual(r.status === 'rejected' && [r.reason, r.nodes], ['unknownMembers', ['n3']]);
      assert.equal(s.space('alpha'), undefined);
      ok(s.apply(create('alpha', 8, ['n2', 'n1'])));
    });
  });

  describe('setCopies (allocation) and setLeaderHint', () => {
    it('moves copies when they are still the expected ones; a node moved onto must be a member, one moved off need not', () => {
      const s = cluster(4);
      ok(s.apply(create('alpha', 8, ['n1', 'n2', 'n3'])));
      ok(s.apply({ kind: 'setLeaderHint', requestId: rid(), space: 'alpha', leader: 'n2' }));
      ok(s.apply({ kind: 'removeMember', requestId: rid(), nodeId: 'n2' })); // dead for good
      const r = ok(s.apply({ kind: 'setCopies', requestId: rid(), space: 'alpha', expected: ['n1', 'n2', 'n3'], copies: ['n1', 'n2', 'n3', 'n4'] }));
      assert.deepEqual(r.space?.copies, ['n1', 'n2', 'n3', 'n4']);
      const done = ok(s.apply({ kind: 'setCopies', requestId: rid(), space: 'alpha', expected: ['n1', 'n2', 'n3', 'n4'], copies: ['n1', 'n3', 'n4'] }));
      assert.equal(done.space?.leaderHint, 'n1', 'the hint named a copy that is gone: the primary takes it');
      const onto = s.apply({ kind: 'setCopies', requestId: rid(), space: 'alpha', expected: ['n1', 'n3', 'n4'], copies: ['n1', 'n3', 'n2'] });
      assert.deepEqual(onto.status === 'rejected' && [onto.reason, onto.nodes], ['unknownMembers', ['n2']]);
    });

    it('refuses a move from a stale view of the copies, and names the current ones', () => {
      const s = cluster(3);
      ok(s.apply(create('alpha', 8, ['n1', 'n2'])));
      const r = s.apply({ kind: 'setCopies', requestId: rid(), space: 'alpha', expected: ['n1', 'n3'], copies: ['n1'] });
      assert.deepEqual(r.status === 'rejected' && [r.reason, r.space?.copies], ['copiesChanged', ['n1', 'n2']]);
      const none = s.apply({ kind: 'setCopies', requestId: rid(), space: 'nope', expected: ['n1'], copies: ['n2'] });
      assert.equal(none.status === 'rejected' && none.reason, 'noSuchSpace');
    });

    it('a leader hint must name a copy', () => {
      const s = cluster(3);
      ok(s.apply(create('alpha', 8, ['n1', 'n2'])));
      const r = s.apply({ kind: 'setLeaderHint', requestId: rid(), space: 'alpha', leader: 'n3' });
      assert.equal(r.status === 'rejected' && r.reason, 'notACopy');
      assert.equal(ok(s.apply({ kind: 'setLeaderHint', requestId: rid(), space: 'alpha', leader: 'n1' })).changed, false);
      assert.equal(ok(s.apply({ kind: 'setLeaderHint', requestId: rid(), space: 'alpha', leader: 'n2' })).space?.leaderHint, 'n2');
    });
  });

  it('a malformed command object is refused before it touches the state', () => {
    const s = cluster(2);
    const digest = s.digest();
    assert.throws(() => s.apply({ kind: 'createSpace', requestId: 'x', space: 'Bad Id', dimension: 8, copies: ['n1'] }), MetaDecodeError);
    assert.throws(() => s.apply({ kind: 'createSpace', requestId: 'x', space: 'ok-id', dimension: 8, copies: ['n1', 'n1'] }), /names n1 twice/);
    assert.throws(() => s.apply({ kind: 'metaConfig', requestId: 'x', voters: [1, 2], learners: [2] }), /also a voter/);
    assert.equal(s.digest(), digest);
  });

  it('snapshot → restore gives the same state, digest and answers; reads are frozen copies', () => {
    const s = cluster(3);
    ok(s.apply(create('alpha', 8, ['n2', 'n1'])));
    ok(s.apply({ kind: 'metaConfig', requestId: rid(), voters: [1, 2, 3], learners: [] }));
    const back = MetaState.restore(s.snapshot());
    assert.deepEqual(back.view(), s.view());
    assert.equal(back.digest(), s.digest());
    assert.match(s.digest(), /^[0-9a-f]{64}$/);
    const next = create('beta', 4, ['n3']);
    assert.deepEqual(back.apply(next), s.apply(next));
    assert.equal(back.digest(), s.digest());
    assert.ok(Object.isFrozen(s.space('alpha')) && Object.isFrozen(s.space('alpha')!.copies));
    const snap = s.snapshot();
    snap[2] = 0; // the caller's copy; the state's cached bytes must not change with it
    assert.deepEqual(MetaState.restore(s.snapshot()).view(), s.view());
  });

  it('the digest is of the state, not of the history: members joining in another order give the same digest', () => {
    const a = cluster(3);
    const b = MetaState.empty();
    ok(b.apply({ kind: 'bootstrap', requestId: 'x', clusterId: CLUSTER, member: member('n1', 1) }));
    ok(b.apply({ kind: 'joinMember', requestId: 'y', member: member('n3', 3) }));
    ok(b.apply({ kind: 'joinMember', requestId: 'z', member: member('n2', 2) }));
    assert.equal(a.digest(), b.digest());
    ok(b.apply({ kind: 'joinMember', requestId: 'w', member: member('n4', 4) }));
    assert.notEqual(a.digest(), b.digest());
  });
});

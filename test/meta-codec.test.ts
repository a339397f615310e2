/**
 * Metadata commands and snapshots as bytes: every kind round-trips, and bytes that are not a
 * command of this version are refused with a typed error naming what is wrong. A refused
 * command is refused alike by every node, so nothing here may depend on more than the bytes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeCommand, decodeSnapshot, encodeCommand, MAX_META_COMMAND_BYTES, MetaDecodeError, MetaState, MetaVersionError, type MetaCommand,
} from '../src/cluster/meta/index.js';

const member = { nodeId: 'n1', storageId: '00000000-0000-4000-8000-000000000001', raftId: 2 ** 53 - 1, grpcAddress: '[::1]:7001', gossipAddress: 'db-1.example:7946' };
const ALL: MetaCommand[] = [
  { kind: 'bootstrap', requestId: 'b', clusterId: '3b241101-e2bb-4255-8caf-4136c566a962', member },
  { kind: 'joinMember', requestId: 'j', member },
  { kind: 'removeMember', requestId: 'r', nodeId: 'n.2_x-Y' },
  { kind: 'createSpace', requestId: 'c', space: 'my-space_1', dimension: 4096, copies: ['n3', 'n1', 'n2'] },
  { kind: 'setCopies', requestId: 's', space: 'abc', expected: ['n1'], copies: ['n2', 'n1'] },
  { kind: 'setLeaderHint', requestId: 'l', space: 'abc', leader: 'n2' },
  { kind: 'metaConfig', requestId: 'm', voters: [1, 2, 3], learners: [] },
];
const enc = new TextEncoder();
const bytes = (...parts: (number[] | string)[]) => Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...enc.encode(p)] : p)));
const body = (value: unknown) => bytes([0x4d, 1], JSON.stringify(value));

function refused(b: Uint8Array, field: string | RegExp): MetaDecodeError {
  let caught: unknown;
  assert.throws(() => decodeCommand(b), (e: unknown) => ((caught = e), true));
  assert.ok(caught instanceof MetaDecodeError, `not a MetaDecodeError: ${String(caught)}`);
  assert.equal(caught.code, caught instanceof MetaVersionError ? 'ERR_META_VERSION' : 'ERR_META_DECODE');
  if (typeof field === 'string') assert.equal(caught.field, field, caught.message);
  else assert.match(caught.message, field);
  return caught;
}

describe('metadata command codec', () => {
  it('every kind round-trips; the bytes are a header and readable JSON', () => {
    for (const c of ALL) {
      const b = encodeCommand(c);
      assert.deepEqual([b[0], b[1]], [0x4d, 1]);
      assert.deepEqual(decodeCommand(b), c, c.kind);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(b.subarray(2))), c);
    }
  });

  it('encoding refuses a command that would not decode, so no node proposes what others refuse', () => {
    assert.throws(() => encodeCommand({ ...ALL[3]!, dimension: 0 } as MetaCommand), MetaDecodeError);
    assert.throws(() => encodeCommand({ ...ALL[3]!, extra: 1 } as unknown as MetaCommand), /unknown field "extra"/);
    const huge = { kind: 'removeMember', requestId: 'x'.repeat(129), nodeId: 'n1' } as MetaCommand;
    assert.throws(() => encodeCommand(huge), /requestId/);
  });

  it('refuses the header: too short, another magic, version 0; a newer version is its own error', () => {
    refused(bytes([]), /too short/);
    refused(bytes([0x4d]), /too short/);
    refused(bytes([0x7b, 1], '{}'), /starts with 0x7b/);
    refused(bytes([0x4d, 0], '{}'), /version 0 does not exist/);
    const newer = refused(bytes([0x4d, 2], 'anything at all'), /newer than this node's \(1\)/);
    assert.ok(newer instanceof MetaVersionError && newer.version === 2);
    refused(new Uint8Array(MAX_META_COMMAND_BYTES + 1).fill(0x4d), /more than/);
  });

  it('refuses bytes that are not UTF-8 JSON of an object', () => {
    refused(bytes([0x4d, 1, 0xff, 0xfe]), /not UTF-8 JSON/);
    refused(bytes([0x4d, 1], '{"kind":'), /not UTF-8 JSON/);
    refused(body([1, 2]), 'kind');
    refused(body(null), 'kind');
    // Deep nesting parses (V8's JSON.parse does not recurse) and is then refused for its shape.
    refused(bytes([0x4d, 1], '['.repeat(30_000) + ']'.repeat(30_000)), 'kind');
  });

  it('names the field that is wrong', () => {
    refused(body({ kind: 'dropTable', requestId: 'x' }), 'kind');
    refused(body({ kind: 'removeMember', requestId: 'x' }), 'nodeId');
    refused(body({ kind: 'removeMember', requestId: 'x', nodeId: 'n1', __proto__x: 1 }), /unknown field "__proto__x"/);
    refused(bytes([0x4d, 1], '{"kind":"removeMember","requestId":"x","nodeId":"n1","__proto__":{}}'), /unknown field "__proto__"/);
    refused(body({ kind: 'removeMember', requestId: '', nodeId: 'n1' }), 'requestId');
    refused(body({ kind: 'removeMember', requestId: 'x', nodeId: 'n 1' }), 'nodeId');
    refused(body({ ...ALL[0], clusterId: '3B241101-E2BB-4255-8CAF-4136C566A962' }), 'clusterId');
    refused(body({ ...ALL[1], member: { ...member, raftId: 0 } }), 'member.raftId');
    refused(body({ ...ALL[1], member: { ...member, raftId: 2 ** 53 } }), 'member.raftId');
    refused(body({ ...ALL[1], member: { ...member, raftId: 1.5 } }), 'member.raftId');
    refused(body({ ...ALL[1], member: { ...member, grpcAddress: 'db-1:0' } }), 'member.grpcAddress');
    refused(body({ ...ALL[1], member: { ...member, gossipAddress: 'no-port' } }), 'member.gossipAddress');
    refused(body({ ...ALL[3], space: 'ab' }), 'space');
    refused(body({ ...ALL[3], dimension: 4097 }), 'dimension');
    refused(body({ ...ALL[3], dimension: '8' }), 'dimension');
    refused(body({ ...ALL[3], copies: [] }), 'copies');
    refused(body({ ...ALL[3], copies: ['n1', 7] }), 'copies[1]');
    refused(body({ ...ALL[4], expected: ['n1', 'n1'] }), 'expected[1]');
    refused(body({ ...ALL[6], voters: [2, 1] }), 'voters[1]');
    refused(body({ ...ALL[6], learners: [3] }), 'learners');
  });
});

describe('metadata snapshot codec', () => {
  function state(): MetaState {
    const s = MetaState.empty();
    s.apply(ALL[0]!);
    s.apply({ kind: 'joinMember', requestId: 'j', member: { ...member, nodeId: 'n0', raftId: 7, storageId: '00000000-0000-4000-8000-000000000007' } });
    s.apply({ kind: 'createSpace', requestId: 'c', space: 'abc', dimension: 8, copies: ['n1', 'n0'] });
    s.apply({ kind: 'metaConfig', requestId: 'm', voters: [7], learners: [2 ** 53 - 1] });
    return s;
  }
  const json = (s: MetaState) => JSON.parse(new TextDecoder().decode(s.snapshot().subarray(2))) as Record<string, unknown>;
  const snap = (value: unknown, spacing?: number) => bytes([0x53, 1], JSON.stringify(value, null, spacing));

  function refusedSnapshot(b: Uint8Array, pattern: RegExp): void {
    assert.throws(() => MetaState.restore(b), (e: unknown) => e instanceof MetaDecodeError && e.target === 'snapshot' && pattern.test(e.message));
  }

  it('the bytes are canonical: members and spaces sorted, and decode gives the view back', () => {
    const s = state();
    const j = json(s);
    assert.deepEqual((j['members'] as { nodeId: string }[]).map((m) => m.nodeId), ['n0', 'n1']);
    assert.deepEqual(decodeSnapshot(s.snapshot()), s.view());
    assert.deepEqual(MetaState.restore(MetaState.empty().snapshot()).view(), MetaState.empty().view());
  });

  it('refuses a valid state spelled another way, so equal states never have two digests', () => {
    const j = json(state());
    refusedSnapshot(snap(j, 1), /canonical/);
    refusedSnapshot(snap({ ...j, members: [...(j['members'] as unknown[])].reverse() }), /members\[1\]: "n0" is out of order/);
    refusedSnapshot(bytes([0x53, 1], JSON.stringify(j).replace('"dimension":8', '"dimension":8.0')), /canonical/);
  });

  it('refuses a state apply could not have made', () => {
    const j = json(state());
    const members = j['members'] as { raftId: number }[];
    refusedSnapshot(snap({ ...j, members: [members[0], { ...members[1], raftId: members[0]!.raftId }] }), /raftId.*also n0's/);
    refusedSnapshot(snap({ ...j, learners: [7] }), /also a voter/);
    refusedSnapshot(snap({ ...j, clusterId: null }), /null while members/);
    refusedSnapshot(snap({ ...j, spaces: [{ id: 'abc', dimension: 8, copies: ['n1'], leaderHint: 'n0' }] }), /leaderHint.*holds no copy/);
    refusedSnapshot(snap({ ...j, extra: true }), /unknown field/);
    refusedSnapshot(bytes([0x53, 9], '{}'), /newer/);
    refusedSnapshot(encodeCommand(ALL[2]!), /starts with 0x4d, not 0x53/);
  });
});

/**
 * The metadata state as canonical bytes: what a Raft snapshot of the metadata group carries, and
 * what the state's digest hashes.
 *
 *   0x53 ('S') | format version (1) | UTF-8 JSON {clusterId, members, spaces, voters, learners}
 *
 * Canonical: keys in a fixed order, members sorted by node id, spaces by space id (code-unit
 * order, never locale order), raft ids ascending, no whitespace. Two states are equal exactly
 * when their snapshots are equal bytes, so decoding refuses bytes that are valid JSON of a valid
 * state but not in this one spelling: a digest must never differ for equal states.
 */
import { MetaDecodeError, MetaVersionError } from './meta-errors.js';
import { FieldReader, kindOf, readMember, readSpace } from './meta-fields.js';
import { parseJson } from './meta-command-codec.js';
import type { MetaMember, MetaSpace, MetaStateView } from './meta-types.js';

/** First byte of a snapshot. */
export const META_SNAPSHOT_MAGIC = 0x53;
/** Format version this node writes and reads. */
export const META_SNAPSHOT_VERSION = 1;

const encoder = new TextEncoder();

/** The canonical bytes of a state view (the view's arrays must already be in canonical order). */
export function encodeSnapshot(view: MetaStateView): Uint8Array {
  const json = JSON.stringify({
    clusterId: view.clusterId,
    members: view.members.map((m) => ({ nodeId: m.nodeId, storageId: m.storageId, raftId: m.raftId, grpcAddress: m.grpcAddress, gossipAddress: m.gossipAddress })),
    spaces: view.spaces.map((s) => ({ id: s.id, dimension: s.dimension, copies: [...s.copies], leaderHint: s.leaderHint })),
    voters: [...view.voters],
    learners: [...view.learners],
  });
  const body = encoder.encode(json);
  const out = new Uint8Array(2 + body.length);
  out[0] = META_SNAPSHOT_MAGIC;
  out[1] = META_SNAPSHOT_VERSION;
  out.set(body, 2);
  return out;
}

/**
 * A state view from snapshot bytes, every field and invariant checked. Throws MetaVersionError
 * for a newer format, MetaDecodeError for anything else; never another error.
 */
export function decodeSnapshot(bytes: Uint8Array): MetaStateView {
  if (!(bytes instanceof Uint8Array)) throw new MetaDecodeError('snapshot', '', `must be bytes (got ${kindOf(bytes)})`);
  if (bytes.length < 2) throw new MetaDecodeError('snapshot', '', `${bytes.length} bytes is too short for a header`);
  if (bytes[0] !== META_SNAPSHOT_MAGIC) throw new MetaDecodeError('snapshot', '', `starts with 0x${bytes[0]!.toString(16).padStart(2, '0')}, not 0x53`);
  if (bytes[1] !== META_SNAPSHOT_VERSION) {
    if (bytes[1]! > META_SNAPSHOT_VERSION) throw new MetaVersionError('snapshot', bytes[1]!, META_SNAPSHOT_VERSION);
    throw new MetaDecodeError('snapshot', '', `format version ${bytes[1]} does not exist`);
  }
  const r = FieldReader.of('snapshot', '', parseJson('snapshot', bytes.subarray(2)), ['clusterId', 'members', 'spaces', 'voters', 'learners']);
  const clusterId = r.value['clusterId'] === null ? null : r.uuid('clusterId');
  const members = list(r, 'members').map((m, i) => readMember('snapshot', `members[${i}]`, m));
  const spaces = list(r, 'spaces').map((s, i) => readSpace('snapshot', `spaces[${i}]`, s));
  const voters = r.raftIdSet('voters');
  const learners = r.raftIdSet('learners');
  const view: MetaStateView = Object.freeze({ clusterId, members: Object.freeze(members), spaces: Object.freeze(spaces), voters, learners });
  checkInvariants(r, view);
  if (!sameBytes(encodeSnapshot(view), bytes)) throw new MetaDecodeError('snapshot', '', 'is not in canonical form (order, spacing or number spelling)');
  return view;
}

function list(r: FieldReader, key: string): unknown[] {
  const v = r.value[key];
  if (!Array.isArray(v)) r.fail(key, `must be an array (got ${kindOf(v)})`);
  return v;
}

/** What `apply` keeps true; a snapshot that breaks it was not written by `apply`. */
function checkInvariants(r: FieldReader, view: MetaStateView): void {
  if (view.clusterId === null && (view.members.length > 0 || view.spaces.length > 0)) r.fail('clusterId', 'is null while members or spaces exist');
  strictlyAscending(r, 'members', view.members, (m: MetaMember) => m.nodeId);
  strictlyAscending(r, 'spaces', view.spaces, (s: MetaSpace) => s.id);
  const raftIds = new Map<number, string>();
  view.members.forEach((m, i) => {
    const other = raftIds.get(m.raftId);
    if (other !== undefined) r.fail(`members[${i}].raftId`, `${m.raftId} is also ${other}'s`);
    raftIds.set(m.raftId, m.nodeId);
  });
  const both = view.learners.find((id) => view.voters.includes(id));
  if (both !== undefined) r.fail('learners', `raft id ${both} is also a voter`);
}

function strictlyAscending<T>(r: FieldReader, key: string, items: readonly T[], id: (t: T) => string): void {
  for (let i = 1; i < items.length; i++) {
    if (!(id(items[i - 1]!) < id(items[i]!))) r.fail(`${key}[${i}]`, `${JSON.stringify(id(items[i]!))} is out of order or repeated`);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

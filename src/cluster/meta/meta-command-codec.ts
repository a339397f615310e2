/**
 * Metadata commands as the bytes of a Raft proposal:
 *
 *   0x4d ('M') | format version (1) | UTF-8 JSON of the command, keys in a fixed order
 *
 * JSON because a command is small and rare (a join, a create) and an operator can read a log
 * entry with a hex dump; the header makes "not a command at all" and "a command of a newer
 * node" two different, typed answers. Decoding checks every field (meta-fields.ts) and refuses
 * anything it does not know: a command is applied by every node, so each must read it alike.
 */
import { MetaDecodeError, MetaVersionError } from './meta-errors.js';
import { FieldReader, kindOf } from './meta-fields.js';
import type { MetaCommand, MetaCommandKind } from './meta-types.js';

/** First byte of every encoded command. */
export const META_COMMAND_MAGIC = 0x4d;
/** Format version this node writes and reads. */
export const META_COMMAND_VERSION = 1;
/** Largest encoded command, bytes: a command names a handful of ids; more is damage. */
export const MAX_META_COMMAND_BYTES = 65_536;

const KEYS: Record<MetaCommandKind, readonly string[]> = {
  bootstrap: ['kind', 'requestId', 'clusterId', 'member'],
  joinMember: ['kind', 'requestId', 'member'],
  removeMember: ['kind', 'requestId', 'nodeId'],
  createSpace: ['kind', 'requestId', 'space', 'dimension', 'copies'],
  setCopies: ['kind', 'requestId', 'space', 'expected', 'copies'],
  setLeaderHint: ['kind', 'requestId', 'space', 'leader'],
  metaConfig: ['kind', 'requestId', 'voters', 'learners'],
};

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Checks a command of unknown shape and returns it typed, frozen, keys in the canonical order.
 * Throws MetaDecodeError naming the bad field.
 */
export function readCommand(value: unknown): MetaCommand {
  const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
  if (typeof kind !== 'string' || !Object.hasOwn(KEYS, kind)) {
    throw new MetaDecodeError('command', 'kind', `must be one of ${Object.keys(KEYS).join(', ')} (got ${kindOf(kind)})`);
  }
  const r = FieldReader.of('command', '', value, KEYS[kind as MetaCommandKind]);
  const requestId = r.requestId();
  switch (kind as MetaCommandKind) {
    case 'bootstrap':
      return Object.freeze({ kind: 'bootstrap', requestId, clusterId: r.uuid('clusterId'), member: r.member('member') });
    case 'joinMember':
      return Object.freeze({ kind: 'joinMember', requestId, member: r.member('member') });
    case 'removeMember':
      return Object.freeze({ kind: 'removeMember', requestId, nodeId: r.nodeId('nodeId') });
    case 'createSpace':
      return Object.freeze({ kind: 'createSpace', requestId, space: r.spaceId('space'), dimension: r.dimension('dimension'), copies: r.copies('copies') });
    case 'setCopies':
      return Object.freeze({ kind: 'setCopies', requestId, space: r.spaceId('space'), expected: r.copies('expected'), copies: r.copies('copies') });
    case 'setLeaderHint':
      return Object.freeze({ kind: 'setLeaderHint', requestId, space: r.spaceId('space'), leader: r.nodeId('leader') });
    case 'metaConfig': {
      const voters = r.raftIdSet('voters');
      const learners = r.raftIdSet('learners');
      const both = learners.find((id) => voters.includes(id));
      if (both !== undefined) r.fail('learners', `raft id ${both} is also a voter`);
      return Object.freeze({ kind: 'metaConfig', requestId, voters, learners });
    }
  }
}

/** The proposal bytes of a command; throws MetaDecodeError for a command that would not decode. */
export function encodeCommand(command: MetaCommand): Uint8Array {
  const json = encoder.encode(JSON.stringify(readCommand(command)));
  const out = new Uint8Array(2 + json.length);
  out[0] = META_COMMAND_MAGIC;
  out[1] = META_COMMAND_VERSION;
  out.set(json, 2);
  if (out.length > MAX_META_COMMAND_BYTES) throw new MetaDecodeError('command', '', `encodes to ${out.length} bytes, more than ${MAX_META_COMMAND_BYTES}`);
  return out;
}

/**
 * The command in proposal bytes. Throws MetaVersionError for a newer format, MetaDecodeError for
 * anything else that is not a valid command; never another error.
 */
export function decodeCommand(bytes: Uint8Array): MetaCommand {
  if (!(bytes instanceof Uint8Array)) throw new MetaDecodeError('command', '', `must be bytes (got ${kindOf(bytes)})`);
  if (bytes.length < 2) throw new MetaDecodeError('command', '', `${bytes.length} bytes is too short for a header`);
  if (bytes.length > MAX_META_COMMAND_BYTES) throw new MetaDecodeError('command', '', `${bytes.length} bytes is more than ${MAX_META_COMMAND_BYTES}`);
  if (bytes[0] !== META_COMMAND_MAGIC) throw new MetaDecodeError('command', '', `starts with 0x${bytes[0]!.toString(16).padStart(2, '0')}, not 0x4d`);
  if (bytes[1] !== META_COMMAND_VERSION) {
    if (bytes[1]! > META_COMMAND_VERSION) throw new MetaVersionError('command', bytes[1]!, META_COMMAND_VERSION);
    throw new MetaDecodeError('command', '', `format version ${bytes[1]} does not exist`);
  }
  return readCommand(parseJson('command', bytes.subarray(2)));
}

/** UTF-8 JSON, every failure (bad UTF-8, bad JSON, too deep) as a MetaDecodeError. */
export function parseJson(target: 'command' | 'snapshot', bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (e) {
    throw new MetaDecodeError(target, '', `is not UTF-8 JSON (${(e as Error).message})`, { cause: e });
  }
}

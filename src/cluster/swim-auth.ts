/**
 * Datagram authentication with the cluster key. A stranger without the key can neither join nor
 * inject membership updates, and a datagram captured on the wire cannot be played again:
 *
 *   datagram = envelope || HMAC-SHA256(key, envelope)
 *   envelope = version (u8 = 1) || epoch (u64 BE) || counter (u64 BE)
 *              || sender length (u8) || sender gossip address (UTF-8) || foca payload
 *
 * `epoch` is drawn at random when a member starts and `counter` grows by one per datagram it
 * sends, so (sender, epoch, counter) names each datagram once; the receiver's `ReplayGuard`
 * (swim-replay.ts) drops any it has seen. All of it is under the tag: none can be altered.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TAG_BYTES = 32;
const VERSION = 1;
/** Fixed part of the envelope: version, epoch, counter, sender length. */
const HEADER_BYTES = 1 + 8 + 8 + 1;
/** Longest sender address the envelope can name (its length travels in one byte). */
export const MAX_SENDER_BYTES = 255;

/** The authenticated fields of one datagram. */
export interface Envelope {
  /** Gossip address (HOST:PORT) of the member that sent it. */
  sender: string;
  /** Random per process start of the sender. */
  epoch: bigint;
  /** Per-datagram sequence number of the sender within its epoch, from 1. */
  counter: bigint;
  payload: Uint8Array;
}

/** Bytes a datagram adds to a payload from `sender`: envelope header plus tag. */
export function sealOverheadBytes(sender: string): number {
  return HEADER_BYTES + Buffer.byteLength(sender, 'utf8') + TAG_BYTES;
}

export function seal(key: Uint8Array, payload: Uint8Array): Buffer {
  const tag = createHmac('sha256', key).update(payload).digest();
  return Buffer.concat([payload, tag]);
}

/** The payload, or null when the datagram is too short or its tag does not verify. */
export function open(key: Uint8Array, datagram: Uint8Array): Uint8Array | null {
  if (datagram.byteLength <= TAG_BYTES) return null;
  const payload = datagram.subarray(0, datagram.byteLength - TAG_BYTES);
  const tag = datagram.subarray(datagram.byteLength - TAG_BYTES);
  const expected = createHmac('sha256', key).update(payload).digest();
  return timingSafeEqual(expected, tag) ? payload : null;
}

/** The datagram for `e`, tagged with `key`. */
export function sealEnvelope(key: Uint8Array, e: Envelope): Buffer {
  const sender = Buffer.from(e.sender, 'utf8');
  if (sender.byteLength > MAX_SENDER_BYTES) throw new RangeError(`sender address of ${sender.byteLength} bytes > ${MAX_SENDER_BYTES}`);
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(VERSION, 0);
  header.writeBigUInt64BE(e.epoch, 1);
  header.writeBigUInt64BE(e.counter, 9);
  header.writeUInt8(sender.byteLength, 17);
  return seal(key, Buffer.concat([header, sender, e.payload]));
}

/** The envelope, or null when the datagram is truncated, forged or not of this version. */
export function openEnvelope(key: Uint8Array, datagram: Uint8Array): Envelope | null {
  const body = open(key, datagram);
  if (!body || body.byteLength < HEADER_BYTES) return null;
  const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (b.readUInt8(0) !== VERSION) return null;
  const senderEnd = HEADER_BYTES + b.readUInt8(17);
  if (senderEnd > b.byteLength) return null;
  return {
    epoch: b.readBigUInt64BE(1),
    counter: b.readBigUInt64BE(9),
    sender: b.toString('utf8', HEADER_BYTES, senderEnd),
    payload: body.subarray(senderEnd),
  };
}

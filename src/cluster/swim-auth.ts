/**
 * Datagram authentication with the cluster key: `payload || HMAC-SHA256(key, payload)`. A stranger
 * without the key can neither join nor inject membership updates.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TAG_BYTES = 32;

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

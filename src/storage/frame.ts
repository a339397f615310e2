/**
 * Record framing of a space log: `u32 LE payload length | u32 LE crc32(payload) | payload`.
 *
 * A log is only ever appended to, one whole frame per acknowledged write, so damage that a
 * crash can cause is confined to the last frame. Scanning therefore distinguishes a torn tail
 * (a write that was never acknowledged: safe to cut) from damage before valid data (acknowledged
 * records at risk: refuse to guess).
 */
import { crc32 } from 'node:zlib';
import { StorageError } from '../errors.js';

/** Bytes of a frame header (length + crc). */
export const FRAME_HEADER_BYTES = 8;
/** Largest payload a frame may carry, bytes (1 GiB); a bigger length field is damage. */
export const MAX_FRAME_PAYLOAD_BYTES = 2 ** 30;

/** Wraps one payload in its frame header. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  if (payload.byteLength === 0) throw new RangeError('a frame payload cannot be empty');
  if (payload.byteLength > MAX_FRAME_PAYLOAD_BYTES) {
    throw new RangeError(`frame payload of ${payload.byteLength} bytes exceeds ${MAX_FRAME_PAYLOAD_BYTES}`);
  }
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  const view = new DataView(frame.buffer);
  view.setUint32(0, payload.byteLength, true);
  view.setUint32(4, crc32(payload), true);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** What a scan found: every intact payload in order, and where the intact prefix ends. */
export interface ScanResult {
  payloads: Uint8Array[];
  /** Byte length of the intact prefix; the file is cut here when `tail` is set. */
  validBytes: number;
  /** Why the bytes after `validBytes` were judged a torn tail; null when there are none. */
  tail: string | null;
}

/**
 * Splits a log's bytes into payloads. A damaged frame is accepted as a torn tail only when no
 * intact frame can be found after it; otherwise a `StorageError` names the offset.
 */
export function scanFrames(bytes: Uint8Array, path: string): ScanResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const payloads: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    const damage = frameDamage(bytes, view, at);
    if (damage !== null) {
      const later = findIntactFrame(bytes, view, at + 1);
      if (later >= 0) {
        throw new StorageError(path, `damaged record at byte ${at} (${damage}) is followed by an intact record at byte ${later}; refusing to drop acknowledged data`);
      }
      return { payloads, validBytes: at, tail: `${damage} at byte ${at}, ${bytes.byteLength - at} bytes cut` };
    }
    const length = view.getUint32(at, true);
    payloads.push(bytes.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length));
    at += FRAME_HEADER_BYTES + length;
  }
  return { payloads, validBytes: at, tail: null };
}

/** Null when an intact frame starts at `at`, else why not. */
function frameDamage(bytes: Uint8Array, view: DataView, at: number): string | null {
  const rest = bytes.byteLength - at;
  if (rest < FRAME_HEADER_BYTES) return 'partial frame header';
  const length = view.getUint32(at, true);
  // Writers never frame an empty payload; zeros are what a crash can leave in preallocated blocks.
  if (length === 0) return 'empty frame';
  if (length > MAX_FRAME_PAYLOAD_BYTES) return 'impossible frame length';
  if (length > rest - FRAME_HEADER_BYTES) return 'partial frame payload';
  const payload = bytes.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
  if (crc32(payload) !== view.getUint32(at + 4, true)) return 'checksum mismatch';
  return null;
}

/**
 * Offset of the first intact frame at or after `from`, or -1. Payloads are JSON objects, so only
 * offsets whose payload starts with `{` are checksummed; that keeps the search linear in practice.
 */
function findIntactFrame(bytes: Uint8Array, view: DataView, from: number): number {
  const OPEN_BRACE = 0x7b;
  for (let at = from; at + FRAME_HEADER_BYTES < bytes.byteLength; at++) {
    if (bytes[at + FRAME_HEADER_BYTES] !== OPEN_BRACE) continue;
    if (frameDamage(bytes, view, at) === null) return at;
  }
  return -1;
}

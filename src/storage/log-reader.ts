/**
 * Positional reads of whole records from an open space log, for shipping them to replicas.
 *
 * The caller supplies the frame offsets it recorded while replaying and appending, so a read is
 * one `pread` of exactly the bytes wanted, never a scan of the file. Only frames that were
 * already fsynced are ever asked for, and a log is append-only, so those bytes cannot change
 * under the read.
 */
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { StorageError } from '../errors.js';
import { FRAME_HEADER_BYTES } from './frame.js';

/** One record's payload and its log position (header = 1). */
export interface PositionedPayload {
  position: number;
  payload: Uint8Array;
}

/**
 * Which records of a read to take: from `first` on, at most `maxRecords`, and while their payloads
 * total at most `maxBytes` — but always the first, so a record larger than the budget still ships.
 * `frameStart(p)` is the byte offset of record p's frame, `frameStart(last + 1)` the end of the log.
 * Returns the last position taken.
 */
export function pickRange(first: number, last: number, maxRecords: number, maxBytes: number, frameStart: (position: number) => number): number {
  let end = first;
  let bytes = frameStart(first + 1) - frameStart(first) - FRAME_HEADER_BYTES;
  while (end < last && end - first + 1 < maxRecords) {
    const next = frameStart(end + 2) - frameStart(end + 1) - FRAME_HEADER_BYTES;
    if (bytes + next > maxBytes) break;
    bytes += next;
    end++;
  }
  return end;
}

/**
 * Reads the frames of records `first..last`, which occupy bytes `start..end` of the file, and
 * returns their payloads (views into one buffer). Each frame's length and checksum are checked
 * again: a mismatch here is damage that happened after replay, and shipping it would spread it.
 */
export async function readFrames(
  handle: FileHandle,
  path: string,
  first: number,
  last: number,
  start: number,
  end: number,
  frameStart: (position: number) => number,
): Promise<PositionedPayload[]> {
  const bytes = new Uint8Array(end - start);
  let done = 0;
  while (done < bytes.byteLength) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(bytes, done, bytes.byteLength - done, start + done));
    } catch (e) {
      throw new StorageError(path, 'cannot read the space log', e);
    }
    if (bytesRead === 0) throw new StorageError(path, `log ends at byte ${start + done}, expected records up to byte ${end}`);
    done += bytesRead;
  }
  const view = new DataView(bytes.buffer);
  const out: PositionedPayload[] = [];
  for (let position = first; position <= last; position++) {
    const at = frameStart(position) - start;
    const length = frameStart(position + 1) - start - at - FRAME_HEADER_BYTES;
    const payload = bytes.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
    if (view.getUint32(at, true) !== length || view.getUint32(at + 4, true) !== crc32(payload)) {
      throw new StorageError(path, `record ${position} at byte ${start + at} is damaged on disk`);
    }
    out.push({ position, payload });
  }
  return out;
}

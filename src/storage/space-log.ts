/**
 * One space's append-only log file, `<dataDir>/spaces/<space>.log`: create, replay, append.
 *
 * Every append is one positional write of one whole frame followed by fdatasync, so a caller
 * that awaited `append` knows its record survives kill -9 and power loss. Log position = number
 * of records in the file, the header included (the header is position 1).
 */
import { open, readFile, mkdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../errors.js';
import { encodeFrame, FRAME_HEADER_BYTES, scanFrames } from './frame.js';
import { pickRange, readFrames, type PositionedPayload } from './log-reader.js';
import { decodeRecord, encodeRecord, type LogRecord, type SpaceHeaderRecord } from './log-record.js';
import { syncDirectory } from './sync-directory.js';

/** File name suffix of a space log. */
export const LOG_SUFFIX = '.log';

/** Receives one line per repair made while opening (a torn tail cut, an unfinished create removed). */
export type WarnFn = (message: string) => void;

/** Directory of the space logs inside a data directory. */
export function spacesDir(dataDir: string): string {
  return join(dataDir, 'spaces');
}

/** Path of a space's log inside a data directory. */
export function logPath(dataDir: string, space: string): string {
  return join(spacesDir(dataDir), space + LOG_SUFFIX);
}

/** A log replayed at open: the header and every later record, in order. */
export interface ReplayedLog {
  log: SpaceLog;
  header: SpaceHeaderRecord;
  records: LogRecord[];
}

export class SpaceLog {
  readonly path: string;
  private readonly handle: FileHandle;
  private size: number;
  /** Byte offset of each record's frame, [i] = position i + 1: lets a read go straight to a record. */
  private readonly offsets: number[];
  private writing = false;
  /** Reads in flight: `close` waits for them so none meets a closed handle. */
  private readonly reads = new Set<Promise<unknown>>();
  /** Set when a write failed: what is on disk past `size` is unknown, so no more appends. */
  private failure: unknown = null;

  private constructor(path: string, handle: FileHandle, offsets: number[], size: number) {
    this.path = path;
    this.handle = handle;
    this.offsets = offsets;
    this.size = size;
  }

  /** Creates the log with its header, durable (file and directory entry) before resolving. */
  static async create(dataDir: string, header: SpaceHeaderRecord): Promise<SpaceLog> {
    const dir = spacesDir(dataDir);
    await mkdir(dir, { recursive: true });
    const path = logPath(dataDir, header.space);
    let handle: FileHandle;
    try {
      // Read as well as write: records are read back from this handle to ship them to replicas.
      handle = await open(path, 'wx+');
    } catch (e) {
      throw new StorageError(path, 'cannot create the space log', e);
    }
    const log = new SpaceLog(path, handle, [], 0);
    try {
      await log.append(header);
      await syncDirectory(dir, path);
    } catch (e) {
      // Never acknowledged: leave no half-created space behind for the next open to meet.
      await handle.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      throw e;
    }
    return log;
  }

  /**
   * Replays a log. A torn tail is cut (and reported through `warn`); damage followed by intact
   * records, or an intact record that does not decode, is a `StorageError`. Returns null (and
   * removes the file) when not even the header was ever completely written.
   */
  static async open(path: string, expectedSpace: string, warn: WarnFn): Promise<ReplayedLog | null> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (e) {
      throw new StorageError(path, 'cannot read the space log', e);
    }
    const scan = scanFrames(bytes, path);
    if (scan.payloads.length === 0) {
      warn(`${path}: no complete header (${scan.tail ?? 'empty file'}); the space was never created, removing the file`);
      await unlink(path);
      return null;
    }
    const records = scan.payloads.map((payload, i) => {
      try {
        return decodeRecord(payload);
      } catch (e) {
        throw new StorageError(path, `record ${i + 1} does not decode: ${(e as Error).message}`, e);
      }
    });
    const header = records.shift()!;
    if (header.type !== 'space') throw new StorageError(path, `first record is "${header.type}", not a space header`);
    if (header.space !== expectedSpace) throw new StorageError(path, `header names space "${header.space}"`);
    const handle = await open(path, 'r+');
    try {
      if (scan.tail !== null) {
        await handle.truncate(scan.validBytes);
        await handle.datasync();
        warn(`${path}: torn tail truncated (${scan.tail}); it was never acknowledged`);
      }
    } catch (e) {
      await handle.close();
      throw new StorageError(path, 'cannot truncate the torn tail', e);
    }
    const offsets: number[] = [];
    let at = 0;
    for (const payload of scan.payloads) {
      offsets.push(at);
      at += FRAME_HEADER_BYTES + payload.byteLength;
    }
    return { log: new SpaceLog(path, handle, offsets, scan.validBytes), header, records };
  }

  /** Number of records in the log, the header included. */
  get position(): number {
    return this.offsets.length;
  }

  /**
   * Appends one record and fsyncs; resolves with its position. Callers serialize appends (the
   * engine's per-space write queue); overlapping calls are a programming error.
   */
  async append(record: LogRecord): Promise<number> {
    return this.appendPayload(encodeRecord(record));
  }

  /**
   * Appends one record given as its payload bytes, framed exactly as `append` frames it; for a
   * replica, which must hold the primary's bytes, not a re-encoding of them. The caller has
   * checked that the bytes decode to a record that fits the space.
   */
  async appendPayload(payload: Uint8Array): Promise<number> {
    if (this.failure !== null) throw new StorageError(this.path, 'an earlier write failed; the log accepts no more writes until reopened', this.failure);
    if (this.writing) throw new Error('SpaceLog.append called while another append is in flight');
    this.writing = true;
    const frame = encodeFrame(payload);
    try {
      let done = 0;
      while (done < frame.byteLength) {
        const { bytesWritten } = await this.handle.write(frame, done, frame.byteLength - done, this.size + done);
        done += bytesWritten;
      }
      await this.handle.datasync();
    } catch (e) {
      // After a failed write or fsync the page cache may not match the disk: cutting the partial
      // frame is best effort, and refusing later writes keeps a hole from being buried under them.
      this.failure = e;
      await this.handle.truncate(this.size).catch(() => undefined);
      throw new StorageError(this.path, 'append failed', e);
    } finally {
      this.writing = false;
    }
    // Offset and size move together, synchronously, and only once the frame is durable:
    // a concurrent read sees either all of this record or none of it.
    this.offsets.push(this.size);
    this.size += frame.byteLength;
    return this.offsets.length;
  }

  /**
   * Payloads of records `from, from + 1, …` (at most `maxRecords`, and while they total at most
   * `maxBytes` payload bytes, but at least one), plus the log position they were read against.
   * Reads only records already fsynced, so it needs no queue and never sees a partial frame.
   */
  read(from: number, maxRecords: number, maxBytes: number): Promise<{ records: PositionedPayload[]; lastPosition: number }> {
    const last = this.offsets.length;
    if (from > last || maxRecords < 1) return Promise.resolve({ records: [], lastPosition: last });
    const frameStart = (position: number) => (position <= this.offsets.length ? this.offsets[position - 1]! : this.size);
    const end = pickRange(from, last, maxRecords, maxBytes, frameStart);
    const reading = readFrames(this.handle, this.path, from, end, frameStart(from), frameStart(end + 1), frameStart)
      .then((records) => ({ records, lastPosition: last }));
    // Registered before the first await, so a `close` called after `read` returns waits for it.
    this.reads.add(reading);
    void reading.finally(() => this.reads.delete(reading)).catch(() => undefined);
    return reading;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.reads]);
    await this.handle.close();
  }
}


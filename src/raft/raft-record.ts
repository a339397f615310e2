/**
 * Binary payloads of a group's files (framed by src/storage/frame.ts).
 *
 * Log batch (one per persisted Ready, so a Ready is on disk whole or not at all):
 *   u8 0x7b | u8 version 1 | u8 flags (1 = hard state present) | [u64 term, vote, commit]
 *   | u32 count | count × (u64 index | u64 term | u32 length | encoded raft entry)
 * Snapshot file (one frame):
 *   u8 0x7b | u8 version 1 | u64 index | u64 term | u32 metadata length | metadata | data
 * All integers little-endian. Every payload starts with 0x7b ('{') because frame.ts, looking
 * past a damaged frame for an intact one (damage before acknowledged data is refused, not cut),
 * only checksums candidates whose payload starts with that byte, as its JSON records do.
 */
import type { RaftHardState, RaftPersistEntry } from './raft-native-types.js';

const MAGIC = 0x7b;
const VERSION = 1;
const HAS_HARD_STATE = 1;

/** One persisted Ready: its entries replace every entry from `entries[0].index` on. */
export interface LogBatch {
  hardState: RaftHardState | null;
  entries: RaftPersistEntry[];
}

export interface SnapshotRecord {
  index: number;
  term: number;
  metadata: Uint8Array;
  data: Uint8Array;
}

class Writer {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  at = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(v: number): void {
    this.view.setUint8(this.at, v);
    this.at += 1;
  }
  u32(v: number): void {
    this.view.setUint32(this.at, v, true);
    this.at += 4;
  }
  u64(v: number): void {
    this.view.setBigUint64(this.at, BigInt(v), true);
    this.at += 8;
  }
  raw(b: Uint8Array): void {
    this.bytes.set(b, this.at);
    this.at += b.byteLength;
  }
}

class Reader {
  readonly view: DataView;
  at = 0;
  constructor(readonly bytes: Uint8Array, readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number): void {
    if (this.at + n > this.bytes.byteLength) throw new RangeError(`${this.what}: truncated at byte ${this.at}`);
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.at++);
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.at, true);
    this.at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${this.what}: ${v} is past 2^53`);
    return Number(v);
  }
  raw(n: number): Uint8Array {
    this.need(n);
    const b = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }
  header(): void {
    const magic = this.u8();
    const version = this.u8();
    if (magic !== MAGIC || version !== VERSION) throw new RangeError(`${this.what}: unknown format ${magic}/${version}`);
  }
}

export function encodeBatch(batch: LogBatch): Uint8Array {
  const size = 3 + (batch.hardState ? 24 : 0) + 4 + batch.entries.reduce((n, e) => n + 20 + e.data.byteLength, 0);
  const w = new Writer(size);
  w.u8(MAGIC);
  w.u8(VERSION);
  w.u8(batch.hardState ? HAS_HARD_STATE : 0);
  if (batch.hardState) {
    w.u64(batch.hardState.term);
    w.u64(batch.hardState.vote);
    w.u64(batch.hardState.commit);
  }
  w.u32(batch.entries.length);
  for (const e of batch.entries) {
    w.u64(e.index);
    w.u64(e.term);
    w.u32(e.data.byteLength);
    w.raw(e.data);
  }
  return w.bytes;
}

/** Decodes a batch; entries are views into `payload`. Throws RangeError on malformed bytes. */
export function decodeBatch(payload: Uint8Array): LogBatch {
  const r = new Reader(payload, 'log batch');
  r.header();
  const flags = r.u8();
  const hardState = flags & HAS_HARD_STATE ? { term: r.u64(), vote: r.u64(), commit: r.u64() } : null;
  const count = r.u32();
  const entries: RaftPersistEntry[] = [];
  for (let i = 0; i < count; i++) {
    const index = r.u64();
    const term = r.u64();
    entries.push({ index, term, data: r.raw(r.u32()) });
  }
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.index !== entries[i - 1]!.index + 1) throw new RangeError(`log batch: entry ${entries[i]!.index} follows ${entries[i - 1]!.index}`);
  }
  if (r.at !== payload.byteLength) throw new RangeError(`log batch: ${payload.byteLength - r.at} trailing bytes`);
  return { hardState, entries };
}

export function encodeSnapshot(s: SnapshotRecord): Uint8Array {
  const w = new Writer(2 + 20 + s.metadata.byteLength + s.data.byteLength);
  w.u8(MAGIC);
  w.u8(VERSION);
  w.u64(s.index);
  w.u64(s.term);
  w.u32(s.metadata.byteLength);
  w.raw(s.metadata);
  w.raw(s.data);
  return w.bytes;
}

export function decodeSnapshot(payload: Uint8Array): SnapshotRecord {
  const r = new Reader(payload, 'snapshot');
  r.header();
  const index = r.u64();
  const term = r.u64();
  const metadata = r.raw(r.u32());
  return { index, term, metadata, data: payload.subarray(r.at) };
}

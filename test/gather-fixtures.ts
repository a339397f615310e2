/**
 * Test fixtures of the gather: partition specs as plain strings and numbers, their wire bytes
 * (at any byte offset, optionally corrupted), and an obviously-correct naive model of every merge.
 */
import assert from 'node:assert/strict';
import { encodeStrings } from '../src/wire/columns.js';
import type {
  ImagineMerged, ImaginePart, MergedRows, RecallMerged, RecallPart, RejectionCode, SpreadMerged, SpreadPart,
} from '../src/gather/gather-types.js';
import { MAX_PARTITION_ROWS } from '../src/gather/gather-types.js';
import { gatherBackendSetting, gatherNative } from '../src/gather/gather-engine.js';
import { nativeMode } from '../src/native/binding.js';

export type Kind = 'recall' | 'spread' | 'imagine';
export const COLUMNS: Record<Kind, string[]> = { recall: ['lower', 'upper'], spread: ['activation'], imagine: ['confidence'] };

/** Ways to break a partition, each named after the code it must produce. */
export type Corruption =
  | 'OFFSETS_ODD' | 'OFFSETS_FIRST' | 'OFFSETS_DECREASING' | 'OFFSETS_LAST'
  | 'COLUMN_LENGTH' | 'BAD_UTF8' | 'UTF8_SPLIT' | 'BAD_VALUE' | 'LOWER_ABOVE_UPPER' | 'DUPLICATE_ID';
export const CORRUPTIONS: Corruption[] = [
  'OFFSETS_ODD', 'OFFSETS_FIRST', 'OFFSETS_DECREASING', 'OFFSETS_LAST',
  'COLUMN_LENGTH', 'BAD_UTF8', 'UTF8_SPLIT', 'BAD_VALUE', 'LOWER_ABOVE_UPPER', 'DUPLICATE_ID',
];
const CODE: Record<Corruption, RejectionCode> = {
  OFFSETS_ODD: 'BAD_OFFSETS', OFFSETS_FIRST: 'BAD_OFFSETS', OFFSETS_DECREASING: 'BAD_OFFSETS', OFFSETS_LAST: 'BAD_OFFSETS',
  COLUMN_LENGTH: 'COLUMN_LENGTH', BAD_UTF8: 'BAD_UTF8', UTF8_SPLIT: 'BAD_UTF8', BAD_VALUE: 'BAD_VALUE',
  LOWER_ABOVE_UPPER: 'BAD_VALUE', DUPLICATE_ID: 'DUPLICATE_ID',
};

/** One partition result as plain data: distinct ids and one value array per column. */
export interface Spec {
  index: number;
  ids: string[];
  values: number[][];
  corruption?: Corruption;
  /** Byte offset of every column inside its buffer (0-7), to exercise unaligned views. */
  shift?: number;
}

function placed(bytes: Uint8Array, shift: number): Uint8Array {
  const buf = new Uint8Array(bytes.byteLength + shift + 5);
  buf.set(bytes, shift);
  return buf.subarray(shift, shift + bytes.byteLength);
}

const f32Bytes = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

/** Wire bytes of a spec, with its corruption applied (the spec must suit it: see `canCorrupt`). */
export function encodeSpec(spec: Spec): { index: number; ids: Uint8Array; offsets: Uint8Array; cols: Uint8Array[] } {
  const ids = spec.corruption === 'DUPLICATE_ID' ? [...spec.ids.slice(0, -1), spec.ids[0]!] : spec.ids;
  const enc = encodeStrings(ids);
  let blob = enc.blob;
  let offsets = new Uint8Array(enc.offsets);
  const off = new Uint32Array(offsets.buffer);
  const cols = spec.values.map((v) => f32Bytes(v));
  const n = ids.length;
  switch (spec.corruption) {
    case 'OFFSETS_ODD': offsets = Uint8Array.from([...offsets, 0]); break;
    case 'OFFSETS_FIRST': off[0] = 1; break;
    case 'OFFSETS_DECREASING': off[1] = off[2]! + 1; break;
    case 'OFFSETS_LAST': off[n] = off[n]! + 1; break;
    case 'COLUMN_LENGTH': cols[cols.length - 1] = cols[cols.length - 1]!.subarray(0, 4 * n - 4); break;
    case 'BAD_UTF8': blob = Uint8Array.from(blob); blob[blob.length - 1] = 0xff; break;
    case 'UTF8_SPLIT': off[1] = off[1]! - 1; break;
    case 'BAD_VALUE': new Float32Array(cols[0]!.buffer)[n - 1] = [NaN, 1.5, -0.25, Infinity][n % 4]!; break;
    case 'LOWER_ABOVE_UPPER': new Float32Array(cols[0]!.buffer)[0] = 1; new Float32Array(cols[1]!.buffer)[0] = 0.5; break;
    default: break;
  }
  const s = spec.shift ?? 0;
  return { index: spec.index, ids: placed(blob, s), offsets: placed(offsets, (s + 1) % 8), cols: cols.map((c, i) => placed(c, (s + 2 + i) % 8)) };
}

/** Whether `c` can be applied to a spec of this kind with these ids. */
export function canCorrupt(kind: Kind, ids: string[], c: Corruption): boolean {
  const n = ids.length;
  switch (c) {
    case 'OFFSETS_ODD': return true;
    case 'OFFSETS_FIRST': case 'OFFSETS_LAST': case 'COLUMN_LENGTH': case 'BAD_VALUE': return n >= 1;
    case 'BAD_UTF8': return n >= 1 && Buffer.byteLength(ids.join('')) > 0;
    case 'OFFSETS_DECREASING': return n >= 2;
    // Moving offsets[1] back one byte lands on the last (continuation) byte of id 0's last character.
    case 'UTF8_SPLIT': return n >= 2 && /[^\x00-\x7f]$/u.test(ids[0]!);
    case 'LOWER_ABOVE_UPPER': return kind === 'recall' && n >= 1;
    case 'DUPLICATE_ID': return n >= 2;
  }
}

export function recallPart(spec: Spec): RecallPart {
  const e = encodeSpec(spec);
  return { index: e.index, ids: e.ids, offsets: e.offsets, lower: e.cols[0]!, upper: e.cols[1]! };
}
export function spreadPart(spec: Spec): SpreadPart {
  const e = encodeSpec(spec);
  return { index: e.index, ids: e.ids, offsets: e.offsets, activation: e.cols[0]! };
}
export function imaginePart(spec: Spec): ImaginePart {
  const e = encodeSpec(spec);
  return { index: e.index, ids: e.ids, offsets: e.offsets, confidence: e.cols[0]! };
}

/** Shorthand for a clean spec: `[[id, v1, v2?], ...]`. */
export function spec(index: number, rows: Array<[string, ...number[]]>, width = rows[0] ? rows[0].length - 1 : 1): Spec {
  return { index, ids: rows.map((r) => r[0]), values: Array.from({ length: width }, (_, c) => rows.map((r) => r[c + 1] as number)) };
}

// ---- naive model: strings, numbers, Maps and full sorts; nothing clever ----

function modelAccept(specs: Spec[], cap: number) {
  const sorted = [...specs].sort((a, b) => a.index - b.index);
  const rejected: Array<[number, RejectionCode]> = [];
  const accepted: Spec[] = [];
  for (const s of sorted) {
    const n = s.ids.length;
    const code = s.corruption === 'OFFSETS_ODD' ? 'BAD_OFFSETS' : n > cap ? 'TOO_LARGE' : s.corruption ? CODE[s.corruption] : undefined;
    if (code) rejected.push([s.index, code]);
    else accepted.push(s);
  }
  return { accepted, rejected };
}

export function modelRecall(specs: Spec[], limit: number) {
  const { accepted, rejected } = modelAccept(specs, limit);
  const best = new Map<string, { p: number; r: number; lo: number; hi: number; bytes: Buffer }>();
  for (const s of accepted) {
    s.ids.forEach((id, r) => {
      const lo = Math.fround(s.values[0]![r]!);
      const hi = Math.fround(s.values[1]![r]!);
      const b = best.get(id);
      if (!b || lo > b.lo || (lo === b.lo && hi > b.hi)) best.set(id, { p: s.index, r, lo, hi, bytes: Buffer.from(id, 'utf8') });
    });
  }
  const rows = [...best.values()].sort((x, y) => y.lo - x.lo || Buffer.compare(x.bytes, y.bytes)).slice(0, limit);
  return { rows: rows.map((b) => [b.p, b.r, b.lo, b.hi]), rejected };
}

export function modelSpread(specs: Spec[]) {
  const { accepted, rejected } = modelAccept(specs, MAX_PARTITION_ROWS);
  const sums = new Map<string, { p: number; r: number; sum: number }>();
  for (const s of accepted) {
    s.ids.forEach((id, r) => {
      const v = Math.fround(s.values[0]![r]!);
      const e = sums.get(id);
      if (e) e.sum += v;
      else sums.set(id, { p: s.index, r, sum: v });
    });
  }
  return { rows: [...sums.values()].map((e) => [e.p, e.r, Math.fround(Math.min(e.sum, 1))]), rejected };
}

export function modelImagine(specs: Spec[], maxRows: number) {
  const { accepted, rejected } = modelAccept(specs, maxRows);
  const rows = accepted.flatMap((s) => s.ids.map((_, r) => [s.index, r, Math.fround(s.values[0]![r]!)] as number[]));
  rows.sort((x, y) => y[2]! - x[2]! || x[0]! - y[0]! || x[1]! - y[1]!);
  return { rows, rejected };
}

/** Rows of a merge as `[partition, row, ...values]`, values with -0 kept apart from +0. */
export function mergedRows(m: MergedRows, columns: string[]): number[][] {
  const cols = columns.map((c) => (m as unknown as Record<string, Float32Array>)[c]!);
  return Array.from(m.partition, (p, i) => [p, m.row[i]!, ...cols.map((c) => c[i]!)]);
}

/** Asserts a merge equals the model, bit for bit (Object.is tells -0 from +0). */
export function assertMatchesModel(m: MergedRows, columns: string[], model: { rows: number[][]; rejected: Array<[number, RejectionCode]> }): void {
  assert.deepStrictEqual(m.rejected.map((r) => [r.partition, r.code]), model.rejected);
  assert.deepStrictEqual(mergedRows(m, columns), model.rows);
}

/** Asserts two merges (native and TS) are identical: same rows, same value bits, same rejections. */
export function assertSameMerge(a: MergedRows, b: MergedRows, columns: string[]): void {
  assert.deepStrictEqual(a.rejected.map((r) => [r.partition, r.code]), b.rejected.map((r) => [r.partition, r.code]));
  assert.deepStrictEqual(Array.from(a.partition), Array.from(b.partition));
  assert.deepStrictEqual(Array.from(a.row), Array.from(b.row));
  for (const c of columns) {
    const x = (a as unknown as Record<string, Float32Array>)[c]!;
    const y = (b as unknown as Record<string, Float32Array>)[c]!;
    assert.deepStrictEqual(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength), `column ${c} differs`);
  }
  for (const r of a.rejected) assert.match(r.message, new RegExp(`partition ${r.partition}\\b`));
}

export type AnyMerged = RecallMerged | SpreadMerged | ImagineMerged;

/**
 * Backends the suites run against: ENGRAM_GATHER_BACKEND=native|ts picks one; unset runs TS and,
 * when the addon has the merges, native too. With ENGRAM_NATIVE=required a missing addon throws here.
 */
export function backendsUnderTest(): Array<'native' | 'ts'> {
  const chosen = gatherBackendSetting();
  if (nativeMode() === 'required' && chosen !== 'ts' && !gatherNative()) {
    throw new Error('ENGRAM_NATIVE=required but the addon does not export the gather merges');
  }
  if (chosen !== 'auto') return [chosen];
  return gatherNative() ? ['ts', 'native'] : ['ts'];
}

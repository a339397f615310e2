/**
 * The records of a space log and their payload encoding: JSON, with every embedding as base64
 * of its f32 LE bytes so a replayed vector is bit-identical to the stored one.
 */

/** First record of every log: which space it holds and its dimension. */
export interface SpaceHeaderRecord {
  type: 'space';
  space: string;
  dimension: number;
}

/** A memory as logged: embedding already L2-normalized, `createdAt` already resolved. */
export interface LoggedMemory {
  id: string;
  embedding: Float32Array;
  content: string;
  lower: number;
  upper: number;
  /** ms since the Unix epoch. */
  createdAt: number;
}

/** An association as logged; `toSpace` is '' for the same space. */
export interface LoggedAssociation {
  from: string;
  to: string;
  toSpace: string;
  weight: number;
}

/** One acknowledged store batch. */
export interface StoreRecord {
  type: 'store';
  memories: LoggedMemory[];
  associations: LoggedAssociation[];
  /** Index of the space group's Raft entry that carried it; absent in logs written by log shipping. */
  index?: number;
}

/** A semantic pattern found by consolidation. */
export interface LoggedPattern {
  id: string;
  centroid: Float32Array;
  members: string[];
}

/** The patterns one consolidation created (never an empty list). */
export interface PatternsRecord {
  type: 'patterns';
  threshold: number;
  patterns: LoggedPattern[];
  /** Index of the space group's Raft entry that carried it; absent in logs written by log shipping. */
  index?: number;
}

export type LogRecord = SpaceHeaderRecord | StoreRecord | PatternsRecord;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Payload bytes of a record. */
export function encodeRecord(record: LogRecord): Uint8Array {
  switch (record.type) {
    case 'space':
      return encoder.encode(JSON.stringify(record));
    case 'store':
      return encoder.encode(JSON.stringify({
        type: 'store',
        ...(record.index !== undefined ? { index: record.index } : {}),
        memories: record.memories.map((m) => ({ ...m, embedding: f32ToBase64(m.embedding) })),
        associations: record.associations,
      }));
    case 'patterns':
      return encoder.encode(JSON.stringify({
        type: 'patterns',
        ...(record.index !== undefined ? { index: record.index } : {}),
        threshold: record.threshold,
        patterns: record.patterns.map((p) => ({ ...p, centroid: f32ToBase64(p.centroid) })),
      }));
  }
}

/** Record of payload bytes; throws `Error` with the reason when they are not a record. */
export function decodeRecord(payload: Uint8Array): LogRecord {
  const raw: unknown = JSON.parse(decoder.decode(payload));
  const r = asObject(raw, 'record');
  switch (r['type']) {
    case 'space':
      return { type: 'space', space: str(r, 'space'), dimension: num(r, 'dimension') };
    case 'store':
      return {
        type: 'store',
        memories: arr(r, 'memories').map((x) => {
          const m = asObject(x, 'memory');
          return {
            id: str(m, 'id'),
            embedding: base64ToF32(str(m, 'embedding')),
            content: str(m, 'content'),
            lower: num(m, 'lower'),
            upper: num(m, 'upper'),
            createdAt: num(m, 'createdAt'),
          };
        }),
        associations: arr(r, 'associations').map((x) => {
          const a = asObject(x, 'association');
          return { from: str(a, 'from'), to: str(a, 'to'), toSpace: str(a, 'toSpace'), weight: num(a, 'weight') };
        }),
        ...(r['index'] !== undefined ? { index: num(r, 'index') } : {}),
      };
    case 'patterns':
      return {
        type: 'patterns',
        threshold: num(r, 'threshold'),
        patterns: arr(r, 'patterns').map((x) => {
          const p = asObject(x, 'pattern');
          return { id: str(p, 'id'), centroid: base64ToF32(str(p, 'centroid')), members: arr(p, 'members').map((id) => asString(id, 'member')) };
        }),
        ...(r['index'] !== undefined ? { index: num(r, 'index') } : {}),
      };
    default:
      throw new Error(`unknown record type ${JSON.stringify(r['type'])}`);
  }
}

function f32ToBase64(values: Float32Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

function base64ToF32(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.byteLength % 4 !== 0) throw new Error(`embedding of ${bytes.byteLength} bytes is not f32`);
  // Copy: a Buffer may sit at an offset of the shared pool that is not 4-aligned.
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

function asObject(x: unknown, what: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new Error(`${what} is not an object`);
  return x as Record<string, unknown>;
}

function asString(x: unknown, what: string): string {
  if (typeof x !== 'string') throw new Error(`${what} is not a string`);
  return x;
}

function str(o: Record<string, unknown>, key: string): string {
  return asString(o[key], key);
}

function num(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${key} is not a finite number`);
  return v;
}

function arr(o: Record<string, unknown>, key: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new Error(`${key} is not an array`);
  return v;
}

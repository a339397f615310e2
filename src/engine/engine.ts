/**
 * The embedded memory engine of one Engram node: memory spaces held in memory, each backed by
 * its append-only log (src/storage). Writes are durable before they resolve and are applied in
 * the order they were logged; reads are synchronous and see every resolved write.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineClosedError, InvalidArgumentError, SpaceConflictError, SpaceNotFoundError } from '../errors.js';
import type { ImagineColumns, RecallColumns, SpreadColumns } from '../wire/columns.js';
import { LOG_SUFFIX, SpaceLog, spacesDir, type WarnFn } from '../storage/space-log.js';
import { encodeRecord, type LoggedPattern, type PatternsRecord } from '../storage/log-record.js';
import { complete, type CompleteInput, type CompleteOutput } from './complete.js';
import { consolidateThreshold, findPatternsSliced, type ConsolidateInput, type ConsolidateOutput } from './consolidate.js';
import { checkSpaceId, compareIds } from './ids.js';
import { imagine, type ImagineInput } from './imagine.js';
import { DEFAULT_DIMENSION, MAX_DIMENSION, MAX_RECORD_BYTES, SPACE_ID_PATTERN } from './limits.js';
import { intParam } from './params.js';
import { recall, type RecallInput } from './recall.js';
import { replaySpace } from './replay.js';
import { decodeReplicated } from './replicated-record.js';
import { SpaceState } from './space-state.js';
import { spread, type SpreadInput } from './spread.js';
import { spreadRound, type SpreadRoundInput, type SpreadRoundOutput } from './spread-round.js';
import { checkSources, validateBatch, type StoreBatch } from './store-batch.js';

/** Options of `Engine.open`. */
export interface EngineOptions {
  /** Receives one line per repair made while opening (torn tail cut, unfinished space removed); default console.warn. */
  warn?: WarnFn;
}

/** What `createSpace` did. */
export interface CreateSpaceResult {
  /** False when the space already existed with this dimension. */
  created: boolean;
  dimension: number;
}

/** What an acknowledged store wrote. */
export interface StoreResult {
  memories: number;
  associations: number;
  /** Position of the batch's record in the space log (records, header = 1); unchanged for an empty batch. */
  logPosition: number;
}

/** Figures of one space. */
export interface SpaceInfo {
  id: string;
  dimension: number;
  memories: number;
  associations: number;
  /** Records in the space log, header included. */
  logPosition: number;
  patterns: number;
}

interface Space {
  state: SpaceState;
  log: SpaceLog;
  /** Tail of the space's write queue: log order = apply order = call order. */
  queue: Promise<unknown>;
}

export class Engine {
  readonly dataDir: string;
  private readonly byId = new Map<string, Space>();
  private readonly creating = new Map<string, Promise<CreateSpaceResult>>();
  private readonly digests = new Map<string, { key: string; digest: string }>();
  private closed = false;

  private constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  /** Opens (creating if needed) a data directory and replays every space's log. */
  static async open(dataDir: string, options: EngineOptions = {}): Promise<Engine> {
    const warn = options.warn ?? ((message: string) => console.warn(`engram engine: ${message}`));
    const dir = spacesDir(dataDir);
    await mkdir(dir, { recursive: true });
    const engine = new Engine(dataDir);
    try {
      for (const name of (await readdir(dir)).sort()) {
        if (!name.endsWith(LOG_SUFFIX)) continue;
        const space = name.slice(0, -LOG_SUFFIX.length);
        if (!SPACE_ID_PATTERN.test(space)) {
          warn(`${join(dir, name)}: not a space id, ignored`);
          continue;
        }
        const replayed = await replaySpace(join(dir, name), space, warn);
        if (replayed !== null) engine.byId.set(space, { ...replayed, queue: Promise.resolve() });
      }
    } catch (e) {
      await engine.close();
      throw e;
    }
    return engine;
  }

  /**
   * Creates a space of `dimension` (1..4096, default 768), durable before resolving. The same id
   * and dimension again → `created: false`; another dimension → `SpaceConflictError`.
   */
  async createSpace(space: string, dimension?: number): Promise<CreateSpaceResult> {
    this.checkOpen();
    checkSpaceId(space);
    const dim = intParam('dimension', dimension, DEFAULT_DIMENSION, 1, MAX_DIMENSION);
    for (let pending = this.creating.get(space); pending !== undefined; pending = this.creating.get(space)) {
      await pending.catch(() => undefined);
    }
    this.checkOpen();
    const existing = this.byId.get(space);
    if (existing !== undefined) {
      if (existing.state.dimension === dim) return { created: false, dimension: dim };
      throw new SpaceConflictError(space, `memory space "${space}" exists with dimension ${existing.state.dimension}, not ${dim}`);
    }
    const creation = (async () => {
      const log = await SpaceLog.create(this.dataDir, { type: 'space', space, dimension: dim });
      this.byId.set(space, { state: new SpaceState(space, dim, log.position), log, queue: Promise.resolve() });
      return { created: true, dimension: dim };
    })();
    this.creating.set(space, creation);
    try {
      return await creation;
    } finally {
      this.creating.delete(space);
    }
  }

  /**
   * Stores a batch, all or nothing: validated whole, appended as one log record, fsynced, then
   * applied. An empty batch writes nothing.
   */
  async store(space: string, batch: StoreBatch): Promise<StoreResult> {
    const s = this.space(space);
    const record = validateBatch(s.state, batch, Date.now());
    return this.enqueue(s, async () => {
      checkSources(s.state, record);
      if (record.memories.length === 0 && record.associations.length === 0) {
        return { memories: 0, associations: 0, logPosition: s.state.logPosition };
      }
      const payload = encodeRecord(record);
      if (payload.byteLength > MAX_RECORD_BYTES) {
        // Refused whole, before anything is written: a record this large could not be shipped
        // to a copy in one message, and would stall replication behind it.
        throw new InvalidArgumentError('batch', `${record.memories.length} memories, ${record.associations.length} associations`,
          `logs as ${payload.byteLength} bytes; one write is at most ${MAX_RECORD_BYTES} bytes (MAX_RECORD_BYTES): split it into smaller batches`);
      }
      const position = await s.log.appendPayload(payload);
      s.state.applyStore(record, position);
      return { memories: record.memories.length, associations: record.associations.length, logPosition: position };
    });
  }

  /**
   * A store batch validated and encoded as the space group's log will carry it (issue 12): the
   * proposer calls this, proposes the bytes, and every copy applies them with `applyEntry`.
   * `createdAt` is resolved here, so every copy stores the same record. Nothing is written.
   */
  prepareStore(space: string, batch: StoreBatch): Uint8Array {
    const s = this.space(space);
    const record = validateBatch(s.state, batch, Date.now());
    checkSources(s.state, record);
    const payload = encodeRecord(record);
    if (payload.byteLength > MAX_RECORD_BYTES) {
      throw new InvalidArgumentError('batch', `${record.memories.length} memories, ${record.associations.length} associations`,
        `logs as ${payload.byteLength} bytes; one write is at most ${MAX_RECORD_BYTES} bytes (MAX_RECORD_BYTES): split it into smaller batches`);
    }
    return payload;
  }

  /**
   * Applies a committed entry of the space's Raft group: the record in `payload` (from
   * `prepareStore`, or a consolidation's patterns) is logged with its Raft `index` and applied.
   * An entry at or below the space's Raft index is already in the log and is skipped: a restarted
   * group hands its committed entries out again. Bytes that are not a record of this space are
   * refused whole (InvalidArgumentError), before anything is written.
   */
  async applyEntry(space: string, index: number, payload: Uint8Array): Promise<{ applied: boolean; position: number }> {
    intParam('index', index, 0, 1, Number.MAX_SAFE_INTEGER);
    const s = this.space(space);
    return this.enqueue(s, async () => {
      if (index <= s.state.raftIndex) return { applied: false, position: s.state.logPosition };
      const record = { ...decodeReplicated(s.state, payload), index };
      const position = await s.log.appendPayload(encodeRecord(record));
      if (record.type === 'store') s.state.applyStore(record, position);
      else s.state.applyPatterns(record, position);
      return { applied: true, position };
    });
  }

  /**
   * A bounded chunk of the space's log for a copy that is catching up from a snapshot: the exact
   * bytes of records `fromPosition…` (≥ 2; the header is every copy's own), at most `maxBytes` in
   * all but always one. Only fsynced records, so never a partial one.
   */
  async readLog(space: string, fromPosition: number, maxBytes: number): Promise<{ records: Uint8Array[]; lastPosition: number; raftIndex: number }> {
    const s = this.space(space);
    intParam('fromPosition', fromPosition, 0, 2, Number.MAX_SAFE_INTEGER);
    intParam('maxBytes', maxBytes, 0, 1, Number.MAX_SAFE_INTEGER);
    const raftIndex = s.state.raftIndex;
    const { records, lastPosition } = await s.log.read(fromPosition, Number.MAX_SAFE_INTEGER, maxBytes);
    return { records: records.map((r) => r.payload), lastPosition, raftIndex };
  }

  /**
   * Appends records read from another copy's log (`readLog`) at `fromPosition`: every copy's
   * log is the same sequence of records (they applied the same committed entries in order), so a
   * copy behind is a prefix of one ahead. Records it already holds are skipped; a gap is refused
   * (InvalidArgumentError), and so is a record that does not fit the space (the records before
   * it stay appended; the next call goes on from there). Returns the space's Raft index after.
   */
  async appendLog(space: string, fromPosition: number, records: Uint8Array[]): Promise<number> {
    const s = this.space(space);
    intParam('fromPosition', fromPosition, 0, 2, Number.MAX_SAFE_INTEGER);
    return this.enqueue(s, async () => {
      const last = s.state.logPosition;
      if (fromPosition > last + 1) throw new InvalidArgumentError('fromPosition', fromPosition, `this copy's log ends at ${last}: records must follow it`);
      for (let i = last + 1 - fromPosition; i < records.length; i++) {
        const record = decodeReplicated(s.state, records[i]);
        const position = await s.log.appendPayload(records[i]!);
        if (record.type === 'store') s.state.applyStore(record, position);
        else s.state.applyPatterns(record, position);
      }
      return s.state.raftIndex;
    });
  }

  /** The highest Raft index of the space's group applied here (0 before any). */
  raftIndex(space: string): number {
    return this.space(space).state.raftIndex;
  }

  recall(space: string, q: RecallInput): RecallColumns {
    return recall(this.space(space).state, query(q));
  }

  spread(space: string, q: SpreadInput): SpreadColumns {
    return spread(this.space(space).state, query(q));
  }

  /** One hop of a Spread over several spaces, on this space (spread-round.ts, DESIGN §10). */
  spreadRound(space: string, q: SpreadRoundInput): SpreadRoundOutput {
    return spreadRound(this.space(space).state, q);
  }

  complete(space: string, q: CompleteInput): CompleteOutput {
    return complete(this.space(space).state, query(q));
  }

  /** Finds new patterns and stores them durably (one log record, none when nothing is new). */
  async consolidate(space: string, q: ConsolidateInput = {}): Promise<ConsolidateOutput> {
    const s = this.space(space);
    const threshold = consolidateThreshold(query(q));
    const deadline = q.deadline ?? Infinity;
    return this.enqueue(s, async () => {
      const started = performance.now();
      const { patterns: found, stoppedEarly } = await findPatternsSliced(s.state, threshold, deadline);
      // Several records when one would pass MAX_RECORD_BYTES; a pattern too large to log alone
      // is left out (it is found again, and refused again, by the next consolidation).
      let patterns = 0;
      for (const chunk of patternRecords(found, threshold)) {
        s.state.applyPatterns(chunk.record, await s.log.appendPayload(chunk.payload));
        patterns += chunk.record.patterns.length;
      }
      const state = s.state;
      return {
        memories: state.memories.size,
        patternsCreated: patterns,
        patternsTotal: state.patterns.length,
        memoriesInPatterns: state.patterned.size,
        durationMs: performance.now() - started,
        stoppedEarly,
      };
    });
  }

  /**
   * A consolidation for the space's Raft group (issue 12): finds the patterns (in slices, up to
   * `deadline`) without writing anything and returns them as entries of at most MAX_RECORD_BYTES
   * each, for the leader to propose; every copy then applies them with `applyEntry`.
   */
  async preparePatterns(space: string, q: ConsolidateInput = {}): Promise<{ payloads: Uint8Array[]; patterns: number; stoppedEarly: boolean; durationMs: number }> {
    const s = this.space(space);
    const threshold = consolidateThreshold(query(q));
    const started = performance.now();
    const { patterns: found, stoppedEarly } = await findPatternsSliced(s.state, threshold, q.deadline ?? Infinity);
    const chunks = patternRecords(found, threshold);
    return {
      payloads: chunks.map((c) => c.payload),
      patterns: chunks.reduce((n, c) => n + c.record.patterns.length, 0),
      stoppedEarly,
      durationMs: performance.now() - started,
    };
  }

  /** The counts a consolidation reports, as they stand. */
  patternTotals(space: string): { memories: number; patternsTotal: number; memoriesInPatterns: number } {
    const state = this.space(space).state;
    return { memories: state.memories.size, patternsTotal: state.patterns.length, memoriesInPatterns: state.patterned.size };
  }

  /**
   * SHA-256 (hex) of the space's content: every memory (id, content, confidence, creation time,
   * embedding), the association and pattern counts and the Raft index applied. Two copies that
   * applied the same entries have the same digest; cached until the next write.
   */
  digest(space: string): string {
    const s = this.space(space);
    const key = `${s.state.logPosition}/${s.state.raftIndex}`;
    const cached = this.digests.get(space);
    if (cached && cached.key === key) return cached.digest;
    const digest = spaceDigest(s.state);
    this.digests.set(space, { key, digest });
    return digest;
  }

  /** Records in the space's log, header included (= `spaceInfo(space).logPosition`). */
  lastPosition(space: string): number {
    return this.space(space).state.logPosition;
  }

  imagine(space: string, q: ImagineInput): ImagineColumns {
    return imagine(this.space(space).state, query(q));
  }

  hasSpace(space: string): boolean {
    return this.byId.has(space);
  }

  spaceInfo(space: string): SpaceInfo {
    return info(this.space(space).state);
  }

  /** Every space, by id. */
  spaces(): SpaceInfo[] {
    return [...this.byId.values()].map((s) => info(s.state)).sort((a, b) => compareIds(a.id, b.id));
  }

  /** Lets queued writes finish, then closes every log. Later calls throw `EngineClosedError`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.creating.values()].map((p) => p.catch(() => undefined)));
    const spaces = [...this.byId.values()];
    await Promise.all(spaces.map((s) => s.queue));
    await Promise.all(spaces.map((s) => s.log.close()));
  }

  private checkOpen(): void {
    if (this.closed) throw new EngineClosedError();
  }

  private space(space: string): Space {
    this.checkOpen();
    const s = this.byId.get(space);
    if (s !== undefined) return s;
    checkSpaceId(space);
    throw new SpaceNotFoundError(space);
  }

  private enqueue<T>(s: Space, task: () => Promise<T>): Promise<T> {
    const run = s.queue.then(task);
    s.queue = run.catch(() => undefined);
    return run;
  }
}

function query<T>(q: T): T {
  if (typeof q !== 'object' || q === null) throw new InvalidArgumentError('query', q, 'must be an object');
  return q;
}

function info(state: SpaceState): SpaceInfo {
  return {
    id: state.id,
    dimension: state.dimension,
    memories: state.memories.size,
    associations: state.associations,
    logPosition: state.logPosition,
    patterns: state.patterns.length,
  };
}

/** Patterns as log records of at most MAX_RECORD_BYTES each, in order; oversized single patterns are left out. */
export function patternRecords(patterns: LoggedPattern[], threshold: number): { record: PatternsRecord; payload: Uint8Array }[] {
  const out: { record: PatternsRecord; payload: Uint8Array }[] = [];
  const encode = (ps: LoggedPattern[]) => {
    const record: PatternsRecord = { type: 'patterns', threshold, patterns: ps };
    return { record, payload: encodeRecord(record) };
  };
  let start = 0;
  while (start < patterns.length) {
    // Grow the chunk while it fits; the common case is every pattern in one record.
    let end = patterns.length;
    let chunk = encode(patterns.slice(start, end));
    while (chunk.payload.byteLength > MAX_RECORD_BYTES && end - start > 1) {
      end = start + Math.max(1, Math.floor((end - start) / 2));
      chunk = encode(patterns.slice(start, end));
    }
    if (chunk.payload.byteLength <= MAX_RECORD_BYTES) out.push(chunk);
    start = end;
  }
  return out;
}

/** See `Engine.digest`: slots are in insertion order, which log order fixes on every copy. */
function spaceDigest(state: SpaceState): string {
  const t = state.memories;
  const h = createHash('sha256');
  h.update(`${state.id}\u0000${state.dimension}\u0000${state.raftIndex}\u0000${state.associations}\u0000${state.patterns.length}\u0000${t.size}\u0000`);
  for (let i = 0; i < t.size; i++) h.update(`${t.ids[i]}\u0000${t.contents[i]}\u0000`);
  const bytes = (a: Float32Array | Float64Array, n: number) => new Uint8Array(a.buffer, a.byteOffset, n * a.BYTES_PER_ELEMENT);
  h.update(bytes(t.lower, t.size));
  h.update(bytes(t.upper, t.size));
  h.update(bytes(t.createdAt, t.size));
  h.update(bytes(t.vectors, t.size * t.dimension));
  return h.digest('hex');
}

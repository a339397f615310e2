/**
 * The load: writers store small batches with unique ids (`ack: 'quorum'`) through random live
 * nodes and remember every batch, acknowledged or not, for the verification after the run;
 * readers run every query type through random live nodes and check each answer's coverage as it
 * arrives. Every call is timed by the client.
 */
import { performance } from 'node:perf_hooks';
import { status as grpcStatus } from '@grpc/grpc-js';
import { EngramError } from '../../src/errors.js';
import { referencePenalty } from '../../src/gather/reference-penalty.js';
import type { Coverage } from '../../src/query/coverage.js';
import type { QueryResult } from '../../src/query/result.js';
import type { Query } from '../../src/query/types.js';
import { prng } from '../../src/util/prng.js';
import type { ChaosOptions } from './options.js';
import type { World } from './world.js';

export interface WrittenBatch {
  space: string;
  writer: number;
  ids: string[];
  embeddings: Float32Array[];
  /** Node the write was sent to. */
  via: string;
  acked: boolean;
  /** `STATUS/engram-code` of a refused write. */
  error?: string;
  logPosition?: number;
  copies?: number;
  start: number;
  latencyMs: number;
}

export interface QueryRecord {
  kind: Query['kind'];
  via: string;
  start: number;
  latencyMs: number;
  timeoutMs: number;
  /** timeoutMs + slack + the delay injected on the coordinator meanwhile. */
  boundMs: number;
  outcome: 'full' | 'partial' | 'error';
  error?: string;
  /** Coverage problems found in this answer (empty when it is consistent). */
  coverageProblems: string[];
}

/** Stored confidence of every memory of the load. */
export const STORED_CONFIDENCE = { lower: 0.6, upper: 0.9 };

export function errorKind(err: unknown): string {
  if (err instanceof EngramError) return `${grpcStatus[err.grpcStatus]}/${err.code}`;
  return `LOCAL/${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? String(err)}`;
}

function unitVector(rand: () => number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    // Box–Muller: a uniform direction on the sphere.
    const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    v[i] = g;
    norm += g * g;
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < dim; i++) v[i] = v[i]! / norm;
  return v;
}

/**
 * Checks a coverage block against DESIGN §3 and against what the schedule had reachable:
 * counts add up, `full` ⇔ responding = expected ⇔ penalty 0, the penalty is the formula of the
 * reported counts, and no partition is `ok` from a node that was down for the whole query.
 */
export function coverageProblems(c: Coverage, expected: number, world: World, from: number, to: number): string[] {
  const out: string[] = [];
  const ok = c.partitions.filter((p) => p.status === 'ok').length;
  const timedOut = c.partitions.filter((p) => p.status === 'timeout').length;
  if (c.expected !== expected) out.push(`expected ${c.expected}, planned ${expected}`);
  if (c.partitions.length !== c.expected) out.push(`${c.partitions.length} partition entries for ${c.expected} expected`);
  if (c.responding !== ok) out.push(`responding ${c.responding} but ${ok} partitions ok`);
  if (c.failed !== c.expected - c.responding) out.push(`failed ${c.failed} ≠ expected − responding`);
  if (c.timedOut !== timedOut) out.push(`timedOut ${c.timedOut} but ${timedOut} partitions timed out`);
  if (c.full !== (c.responding === c.expected)) out.push(`full=${c.full} with ${c.responding}/${c.expected}`);
  if ((c.penalty === 0) !== (c.responding === c.expected)) out.push(`penalty ${c.penalty} with ${c.responding}/${c.expected}`);
  const want = referencePenalty(c.expected, c.expected - c.responding, c.partitioned);
  if (Math.abs(c.penalty - want) > 1e-6) out.push(`penalty ${c.penalty}, formula gives ${want} (partitioned=${c.partitioned})`);
  for (const p of c.partitions) {
    if (p.status === 'ok' && world.downThroughout(p.node, from, to)) out.push(`${p.partition} ok from ${p.node}, which was down throughout`);
  }
  return out;
}

/** Result-level checks: the penalty reached the confidences. */
function resultProblems(r: QueryResult): string[] {
  const factor = 1 - r.coverage.penalty + 1e-6;
  const out: string[] = [];
  if (r.kind === 'recall') {
    for (const m of r.memories) if (m.confidence.upper > STORED_CONFIDENCE.upper * factor) out.push(`recall ${m.id} upper ${m.confidence.upper} above ${STORED_CONFIDENCE.upper}×(1−penalty)`);
  } else if (r.kind === 'imagine') {
    for (const it of r.items) if (it.confidence > factor) out.push(`imagined ${it.id} confidence ${it.confidence} above 1−penalty`);
  } else if (r.kind === 'spread') {
    for (const a of r.activations) if (a.activation > factor) out.push(`activation ${a.id} ${a.activation} above 1−penalty`);
  }
  return out;
}

export class Load {
  readonly batches: WrittenBatch[] = [];
  readonly queries: QueryRecord[] = [];
  /** Acknowledged batches per space, for cues and seeds. */
  readonly #acked = new Map<string, WrittenBatch[]>();
  #stop = false;
  #running: Promise<void>[] = [];

  constructor(
    readonly world: World,
    readonly spaces: string[],
    readonly o: ChaosOptions,
  ) {}

  start(): void {
    for (let w = 0; w < this.o.writers; w++) this.#running.push(this.#writer(w));
    for (let r = 0; r < this.o.readers; r++) this.#running.push(this.#reader(r));
  }

  /** Stops the loops and waits for the calls in flight. */
  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#running);
  }

  #pick<T>(rand: () => number, xs: readonly T[]): T {
    return xs[Math.floor(rand() * xs.length)]!;
  }

  async #writer(w: number): Promise<void> {
    const rand = prng(this.o.seed * 1000 + w);
    for (let seq = 0; !this.#stop; seq++) {
      const space = this.#pick(rand, this.spaces);
      const via = this.#pick(rand, this.world.upIds());
      const ids = Array.from({ length: this.o.batchSize }, (_, i) => `w${w}-b${seq}-m${i}`);
      const embeddings = ids.map(() => unitVector(rand, this.o.dimension));
      const batch: WrittenBatch = { space, writer: w, ids, embeddings, via, acked: false, start: this.world.now(), latencyMs: 0 };
      this.batches.push(batch);
      const t = performance.now();
      try {
        const out = await this.world.client(via).store(space, {
          memories: ids.map((id, i) => ({ id, embedding: embeddings[i]!, content: `${space} ${id}`, confidence: STORED_CONFIDENCE })),
          associations: ids.slice(1).map((to, i) => ({ from: ids[i]!, to, weight: 0.8 })),
          ack: 'quorum',
        });
        batch.acked = true;
        batch.logPosition = out.logPosition;
        batch.copies = out.copies;
        let list = this.#acked.get(space);
        if (!list) this.#acked.set(space, (list = []));
        list.push(batch);
      } catch (err) {
        batch.error = errorKind(err);
      }
      batch.latencyMs = performance.now() - t;
      await pause(this.o.writePauseMs);
    }
  }

  #query(rand: () => number): { query: Query; timeoutMs: number; expected: number } {
    const space = this.#pick(rand, this.spaces);
    const known = this.#acked.get(space) ?? [];
    const some = known.length > 0 ? this.#pick(rand, known) : undefined;
    const cue = some ? some.embeddings[0]! : unitVector(rand, this.o.dimension);
    const t = this.o.queryTimeoutMs;
    const x = rand();
    if (x < this.o.consolidateShare) return { query: { kind: 'consolidate', space, threshold: 0.3 }, timeoutMs: this.o.consolidateTimeoutMs, expected: 1 };
    if (x < 0.35) return { query: { kind: 'recall', space, cue: { embedding: cue }, limit: 5 }, timeoutMs: t, expected: 1 };
    if (x < 0.55) return { query: { kind: 'spread', space, seeds: some ? [some.ids[0]!] : ['none'], hops: 2 }, timeoutMs: t, expected: 1 };
    if (x < 0.75) {
      const mask = Array.from({ length: this.o.dimension }, (_, i) => i % 2 === 0);
      return { query: { kind: 'complete', space, values: cue, known: mask, neighbours: 3 }, timeoutMs: t, expected: 1 };
    }
    const n = 2 + Math.floor(rand() * (this.spaces.length - 1));
    const spaces = [...this.spaces].sort(() => rand() - 0.5).slice(0, n);
    return { query: { kind: 'imagine', spaces, cue: { embedding: cue }, limit: 3 }, timeoutMs: t, expected: spaces.length };
  }

  async #reader(r: number): Promise<void> {
    const rand = prng(this.o.seed * 1000 + 500 + r);
    while (!this.#stop) {
      const { query, timeoutMs, expected } = this.#query(rand);
      const via = this.#pick(rand, this.world.upIds());
      const start = this.world.now();
      const t = performance.now();
      const rec: QueryRecord = { kind: query.kind, via, start, latencyMs: 0, timeoutMs, boundMs: 0, outcome: 'error', coverageProblems: [] };
      let result: QueryResult | undefined;
      try {
        result = await this.world.client(via).query(query, { timeoutMs });
      } catch (err) {
        rec.error = errorKind(err);
        const cov = err instanceof EngramError ? (err as { coverage?: Coverage }).coverage : undefined;
        if (cov) rec.coverageProblems.push(...coverageProblems(cov, expected, this.world, start, this.world.now()));
      }
      rec.latencyMs = performance.now() - t;
      const end = this.world.now();
      // Time the coordinator was delayed or cut off (unreachable) is added: no answer can come back then.
      rec.boundMs = timeoutMs + this.o.deadlineSlackMs + this.world.delayDuring(via, start, end) + this.world.cutDuring(via, start, end);
      if (result) {
        rec.outcome = result.coverage.full ? 'full' : 'partial';
        rec.coverageProblems.push(...coverageProblems(result.coverage, expected, this.world, start, end), ...resultProblems(result));
      }
      this.queries.push(rec);
      await pause(this.o.readPauseMs);
    }
  }
}

/** Pacing of the load (not synchronisation): a short unref'd timer. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

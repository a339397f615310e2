/**
 * The load: writers store small batches of memories, each id written exactly once in the run,
 * through random running nodes; readers look up one memory whose write was acknowledged before
 * the read began (recall by its exact embedding), half of them with `consistency: 'leader'`.
 * Every call goes into the history as invoke + completion; nothing here judges the outcome.
 *
 * Embeddings are built so a copy can be listed whole after the run (recall caps `limit` at
 * 1000): each memory points near one of 2 × dimension bucket directions (±e_k) plus a little
 * noise, so a recall with cue ±e_k and a high threshold returns exactly that bucket.
 */
import type { AckLevel } from '../../src/client/engram-client.js';
import type { Consistency } from '../../src/query/types.js';
import { prng } from '../../src/util/prng.js';
import { classifyWriteError, errorName, type History, type HistoryEvent } from './history.js';
import type { ChaosOptions } from './options.js';
import type { World } from './world.js';
import { spreadReaders, type SpreadOracle } from './spreads.js';

/** Similarity of a memory to its bucket direction is ≥ this; to any other bucket far below it. */
export const BUCKET_THRESHOLD = 0.8;
/** Noise added to a bucket direction (relative norm): keeps memories distinct and in their bucket. */
const NOISE = 0.15;

/** Bucket direction `k` of `dim` (k < 2·dim): +e_k for k < dim, −e_(k−dim) after. */
export function bucketDirection(k: number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  v[k % dim] = k < dim ? 1 : -1;
  return v;
}

function memoryEmbedding(rand: () => number, bucket: number, dim: number): Float32Array {
  const v = bucketDirection(bucket, dim);
  const noise = new Float32Array(dim);
  let n = 0;
  for (let i = 0; i < dim; i++) {
    // Box–Muller: a uniform direction for the noise.
    noise[i] = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    n += noise[i]! * noise[i]!;
  }
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    v[i] = v[i]! + (NOISE * noise[i]!) / Math.sqrt(n);
    norm += v[i]! * v[i]!;
  }
  for (let i = 0; i < dim; i++) v[i] = v[i]! / Math.sqrt(norm);
  return v;
}

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export class Load {
  /** Embedding of every memory id written, for reads. */
  readonly embeddings = new Map<string, Float32Array>();
  /** Acknowledged memory ids per space, in acknowledgement order (what readers look for). */
  readonly #acked = new Map<string, string[]>();
  #stop = false;
  #running: Promise<void>[] = [];

  constructor(
    readonly world: World,
    readonly history: History,
    readonly spaces: string[],
    readonly o: ChaosOptions,
    /** The Spreads over the graph spaces the spread readers ask (spreads.ts). */
    readonly oracle?: SpreadOracle,
  ) {}

  start(): void {
    for (let w = 0; w < this.o.writers; w++) this.#running.push(this.#writer(w));
    for (let r = 0; r < this.o.readers; r++) this.#running.push(this.#reader(r));
    if (this.oracle) this.#running.push(...spreadReaders(this.world, this.history, this.oracle, this.o, () => this.#stop));
  }

  /** Stops the loops and waits for the calls in flight (each bounded by its deadline). */
  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#running);
  }

  #pick<T>(rand: () => number, xs: readonly T[]): T | undefined {
    return xs.length ? xs[Math.floor(rand() * xs.length)] : undefined;
  }

  async #writer(w: number): Promise<void> {
    const rand = prng(this.o.seed * 1000 + w);
    const dim = this.o.dimension;
    for (let seq = 0; !this.#stop; seq++) {
      const space = this.#pick(rand, this.spaces)!;
      const via = this.#pick(rand, this.world.upIds());
      if (!via) {
        await pause(this.o.writePauseMs);
        continue;
      }
      const ids = Array.from({ length: this.o.batchSize }, (_, i) => `w${w}-${seq}-${i}`);
      const embeddings = ids.map(() => memoryEmbedding(rand, Math.floor(rand() * 2 * dim), dim));
      ids.forEach((id, i) => this.embeddings.set(id, embeddings[i]!));
      const ack: AckLevel = rand() < this.o.ackAllShare ? 'all' : 'quorum';
      const inv = this.history.invoke({ f: 'write', process: `w${w}`, node: via, space, ids, mode: ack });
      try {
        await this.world.client(via).store(space, {
          memories: ids.map((id, i) => ({ id, embedding: embeddings[i]!, content: id, confidence: { lower: 0.6, upper: 0.9 } })),
          ack,
        }, { deadlineMs: this.o.writeTimeoutMs });
        this.history.complete(inv, 'ok');
        this.#ack(space, ids);
      } catch (err) {
        const type = classifyWriteError(err);
        this.history.complete(inv, type, { error: errorName(err) });
        if (type === 'ok') this.#ack(space, ids);
      }
      await pause(this.o.writePauseMs);
    }
  }

  #ack(space: string, ids: string[]): void {
    let list = this.#acked.get(space);
    if (!list) this.#acked.set(space, (list = []));
    list.push(...ids);
  }

  async #reader(r: number): Promise<void> {
    const rand = prng(this.o.seed * 1000 + 500 + r);
    while (!this.#stop) {
      const space = this.#pick(rand, this.spaces)!;
      const acked = this.#acked.get(space) ?? [];
      // Mostly the newest acknowledgements: where a lagging copy would miss them.
      const id = rand() < 0.7 ? acked[acked.length - 1 - Math.floor(rand() * Math.min(20, acked.length))] : this.#pick(rand, acked);
      const via = this.#pick(rand, this.world.upIds());
      if (id === undefined || via === undefined) {
        await pause(this.o.readPauseMs);
        continue;
      }
      const consistency: Consistency = rand() < this.o.leaderReadShare ? 'leader' : 'any';
      const inv: HistoryEvent = this.history.invoke({ f: 'read', process: `r${r}`, node: via, space, ids: [id], mode: consistency });
      try {
        const res = await this.world.client(via).query(
          { kind: 'recall', space, cue: { embedding: this.embeddings.get(id)! }, limit: 3, threshold: 0.99 },
          { timeoutMs: this.o.readTimeoutMs, consistency },
          { deadlineMs: this.o.readTimeoutMs + 2_000 },
        );
        const p = res.coverage.partitions[0];
        // A read that no copy answered observed nothing: it is a failed read, not an empty one.
        if (!res.coverage.full) this.history.complete(inv, 'fail', { error: `partial: ${p?.status ?? '-'}` });
        else this.history.complete(inv, 'ok', { found: res.memories.map((m) => m.id), answeredBy: p?.node ?? '' });
      } catch (err) {
        this.history.complete(inv, 'fail', { error: errorName(err) });
      }
      await pause(this.o.readPauseMs);
    }
  }
}

/**
 * The task card's coordinator (task-card-009.md: QueryPlanner, ScatterExecutor, GatherExecutor,
 * DistributedQueryExecutor), written in TypeScript the way its sketch reads: the baseline of
 * bench/naive-coordinator.ts. It lives in the calling process and is deliberately not ours:
 *
 * - plan: the card's `plan_query` over a placement table read once (its `space_assignment` and
 *   membership lookup); Recall and Spread go to the space's primary, an Imagine to every space's
 *   primary. One target per partition (space), each asked for that one space — the card groups
 *   an Imagine's spaces by node and sends every node the whole query, which would make the node
 *   coordinate again; per partition is what the brief of issue 13 asks for.
 * - scatter: `Promise.all` over one grpc-js call per target to the owner's public `ExecuteQuery`,
 *   with the card's per-call deadline (500 ms for one partition, 5 s for several). `channels`
 *   chooses what each call rides on: `per-call`, a new grpc-js client (channel) made for the call
 *   and closed after it; `pooled`, the card's own ConnectionPool (one client per address, kept).
 *   A new grpc-js channel opens a new TCP connection unless a live channel of equal target and
 *   options already holds one (then it shares that one): per call, connections are shared only
 *   by calls in flight at the same time.
 * - results are row-wise: the public QueryResponse decoded by @grpc/proto-loader into one JS
 *   object per memory / activation / item (embeddings as number arrays).
 * - gather: the card's merges with JS Maps and arrays — Recall keeps the first copy of a
 *   duplicate id it sees (the sketch's `and_modify` updates the map, not the list it returns) and
 *   sorts by lower bound, no cut to `limit`; Spread sums without clamping; Imagine concatenates
 *   and sorts by confidence (a stable sort: ties stay in partition order); one answer passes
 *   through unmerged. The card's penalty, with no partition detector (never partitioned).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

// dist/bench/naive/coordinator.js → <package>/proto
const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'proto');

/** The card's `plan.timeout` for a single-partition plan, ms. */
export const NAIVE_SINGLE_TIMEOUT_MS = 500;
/** The card's `plan.timeout` for a multi-partition plan, ms. */
export const NAIVE_MULTI_TIMEOUT_MS = 5_000;

export type NaiveQuery =
  | { kind: 'recall'; space: string; cue: Float32Array; limit: number }
  | { kind: 'spread'; space: string; seeds: string[] }
  | { kind: 'imagine'; spaces: string[]; cue: Float32Array; limit: number };

/** Rows as proto-loader decodes them (keepCase). */
export interface RecallRow { id: string; content: string; confidence: { lower: number; upper: number }; similarity: number; created_at: number; space: string }
export interface ActivationRow { id: string; activation: number }
export interface ImagineRow { id: string; space: string; source: string; content: string; confidence: number; embedding: number[] }

export type NaiveResult =
  | { kind: 'recall'; memories: RecallRow[] }
  | { kind: 'spread'; activations: Map<string, number> }
  | { kind: 'imagine'; items: ImagineRow[] };

export interface NaiveTarget { nodeId: string; addr: string; spaces: string[]; role: 'primary' }
export interface NaivePlan { targets: NaiveTarget[]; expectedPartitions: number; strategy: 'single' | 'multi'; timeoutMs: number }

interface ScatterResponse { nodeId: string; role: 'primary'; result: NaiveResult | Error; latencyMs: number }

export interface AggregatedResult {
  result: NaiveResult;
  respondingPartitions: number;
  failedPartitions: number;
  totalPartitions: number;
  confidencePenalty: number;
  partitionLatencies: Map<string, number>;
}

/** Where each space's primary is: node id and gRPC address. */
export type PlacementTable = ReadonlyMap<string, { nodeId: string; addr: string }>;

export interface NaiveCoordinatorOptions {
  /** `per-call` (default): a new grpc-js client per call, closed after it; `pooled`: one per address, kept. */
  channels?: 'per-call' | 'pooled';
}

type AnyClient = grpc.Client & Record<string, Function>;

let engramClient: grpc.ServiceClientConstructor | undefined;

/** The public Engram service client, loaded the way grpc-js's examples load a .proto. */
function EngramService(): grpc.ServiceClientConstructor {
  if (engramClient) return engramClient;
  const def = protoLoader.loadSync('engram/v1/engram.proto', { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { engram: { v1: { Engram: grpc.ServiceClientConstructor } } };
  engramClient = pkg.engram.v1.Engram;
  return engramClient;
}

function toRequest(query: NaiveQuery, spaces: string[]): unknown {
  switch (query.kind) {
    case 'recall':
      return { query: { recall: { space: query.space, cue: { embedding: { values: Array.from(query.cue) } }, limit: query.limit } } };
    case 'spread':
      return { query: { spread: { space: query.space, seeds: query.seeds } } };
    case 'imagine':
      return { query: { imagine: { spaces, cue: { embedding: { values: Array.from(query.cue) } }, limit: query.limit } } };
  }
}

/** The card's `QueryResult::from_grpc_response`. */
function fromResponse(res: { result?: string; recall?: { memories: RecallRow[] }; spread?: { activations: ActivationRow[] }; imagine?: { items: ImagineRow[] } }): NaiveResult {
  switch (res.result) {
    case 'recall':
      return { kind: 'recall', memories: res.recall!.memories };
    case 'spread':
      return { kind: 'spread', activations: new Map(res.spread!.activations.map((a) => [a.id, a.activation])) };
    case 'imagine':
      return { kind: 'imagine', items: res.imagine!.items };
    default:
      throw new Error(`unexpected result ${String(res.result)}`);
  }
}

export class NaiveCoordinator {
  readonly #table: PlacementTable;
  readonly #channels: 'per-call' | 'pooled';
  /** The card's ConnectionPool (`pooled` only). */
  readonly #pool = new Map<string, AnyClient>();
  /** Channels (grpc-js clients) this coordinator has made. */
  channelsCreated = 0;

  constructor(table: PlacementTable, options: NaiveCoordinatorOptions = {}) {
    this.#table = table;
    this.#channels = options.channels ?? 'per-call';
  }

  /** The card's `DistributedQueryExecutor::execute`: plan, scatter, gather. */
  async execute(query: NaiveQuery): Promise<AggregatedResult> {
    const plan = this.plan(query);
    const responses = await this.scatter(plan, query);
    return this.gather(plan, responses);
  }

  plan(query: NaiveQuery): NaivePlan {
    if (query.kind === 'imagine') {
      const targets = query.spaces.map((space) => this.#target(space));
      return { targets, expectedPartitions: targets.length, strategy: 'multi', timeoutMs: NAIVE_MULTI_TIMEOUT_MS };
    }
    return { targets: [this.#target(query.space)], expectedPartitions: 1, strategy: 'single', timeoutMs: NAIVE_SINGLE_TIMEOUT_MS };
  }

  #target(space: string): NaiveTarget {
    const a = this.#table.get(space);
    if (!a) throw new Error(`space not found: ${space}`);
    return { nodeId: a.nodeId, addr: a.addr, spaces: [space], role: 'primary' };
  }

  scatter(plan: NaivePlan, query: NaiveQuery): Promise<ScatterResponse[]> {
    return Promise.all(plan.targets.map((t) => this.#scatterSingle(t, query, plan.timeoutMs)));
  }

  #client(addr: string): AnyClient {
    if (this.#channels === 'pooled') {
      let c = this.#pool.get(addr);
      if (!c) {
        // An option of its own, so these kept channels never lend their connection to another
        // coordinator's new channels (grpc-js shares a subchannel between channels of equal options).
        c = new (EngramService())(addr, grpc.credentials.createInsecure(), { 'grpc.primary_user_agent': 'engram-bench-naive-pooled' }) as AnyClient;
        this.channelsCreated++;
        this.#pool.set(addr, c);
      }
      return c;
    }
    this.channelsCreated++;
    return new (EngramService())(addr, grpc.credentials.createInsecure()) as AnyClient;
  }

  async #scatterSingle(target: NaiveTarget, query: NaiveQuery, timeoutMs: number): Promise<ScatterResponse> {
    const start = performance.now();
    let client: AnyClient;
    try {
      client = this.#client(target.addr);
    } catch (err) {
      return { nodeId: target.nodeId, role: target.role, result: err as Error, latencyMs: performance.now() - start };
    }
    const result = await new Promise<NaiveResult | Error>((resolve) => {
      client.ExecuteQuery!(toRequest(query, target.spaces), { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: Parameters<typeof fromResponse>[0]) => {
        if (err) resolve(err);
        else {
          try {
            resolve(fromResponse(res));
          } catch (e) {
            resolve(e as Error);
          }
        }
      });
    });
    if (this.#channels === 'per-call') client.close();
    return { nodeId: target.nodeId, role: target.role, result, latencyMs: performance.now() - start };
  }

  gather(plan: NaivePlan, responses: ScatterResponse[]): AggregatedResult {
    const totalPartitions = plan.expectedPartitions;
    const successful = responses.filter((r) => !(r.result instanceof Error));
    const failedPartitions = responses.length - successful.length;
    if (successful.length === 0) throw new Error(`all ${totalPartitions} partitions failed: ${responses.map((r) => String(r.result)).join('; ')}`);
    const merged = mergeResults(successful.map((r) => r.result as NaiveResult));
    const confidencePenalty = calculatePenalty(successful.length, totalPartitions, false);
    const partitionLatencies = new Map(responses.map((r) => [r.nodeId, r.latencyMs]));
    return { result: applyPenalty(merged, confidencePenalty), respondingPartitions: successful.length, failedPartitions, totalPartitions, confidencePenalty, partitionLatencies };
  }

  close(): void {
    for (const c of this.#pool.values()) c.close();
    this.#pool.clear();
  }
}

export function mergeResults(parts: NaiveResult[]): NaiveResult {
  if (parts.length === 0) throw new Error('no results');
  if (parts.length === 1) return parts[0]!;
  switch (parts[0]!.kind) {
    case 'recall': {
      const seen = new Map<string, RecallRow>();
      const merged: RecallRow[] = [];
      for (const p of parts) {
        if (p.kind !== 'recall') continue;
        for (const m of p.memories) {
          const existing = seen.get(m.id);
          if (existing) {
            if (m.confidence.lower > existing.confidence.lower) seen.set(m.id, m);
          } else {
            merged.push(m);
            seen.set(m.id, m);
          }
        }
      }
      merged.sort((a, b) => b.confidence.lower - a.confidence.lower);
      return { kind: 'recall', memories: merged };
    }
    case 'spread': {
      const all = new Map<string, number>();
      for (const p of parts) {
        if (p.kind !== 'spread') continue;
        for (const [id, a] of p.activations) all.set(id, (all.get(id) ?? 0) + a);
      }
      return { kind: 'spread', activations: all };
    }
    case 'imagine': {
      const all: ImagineRow[] = [];
      for (const p of parts) if (p.kind === 'imagine') all.push(...p.items);
      all.sort((a, b) => b.confidence - a.confidence);
      return { kind: 'imagine', items: all };
    }
  }
}

export function calculatePenalty(responding: number, total: number, partitioned: boolean): number {
  if (responding === total) return 0;
  return Math.min((total - responding) / total + (partitioned ? 0.1 : 0), 0.5);
}

export function applyPenalty(result: NaiveResult, penalty: number): NaiveResult {
  if (penalty === 0) return result;
  const k = 1 - penalty;
  switch (result.kind) {
    case 'recall':
      for (const m of result.memories) m.confidence = { lower: m.confidence.lower * k, upper: m.confidence.upper * k };
      break;
    case 'spread':
      for (const [id, a] of result.activations) result.activations.set(id, a * k);
      break;
    case 'imagine':
      for (const i of result.items) i.confidence *= k;
      break;
  }
  return result;
}

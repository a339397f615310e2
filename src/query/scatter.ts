/**
 * The scatter phase: every planned partition is dispatched at once; each tries its copies in
 * order within one per-partition deadline. When the deadline passes the RPC in flight is
 * cancelled (its AbortSignal fires, the transport calls `call.cancel()`), not merely abandoned.
 * A partition is answered once: whatever arrives after it settled is dropped, never merged.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import { AbortError, ConnectionBackoffError, EngramError, RemoteInvalidArgumentError } from '../errors.js';
import { partitionFromWire } from '../wire/partition-codec.js';
import { queryToWire } from './to-wire.js';
import { Deadline, nowMs } from './deadline.js';
import type { PartitionStatus } from './coverage.js';
import type { PartitionOutcome } from './outcome.js';
import type { PlannedCopy, PlannedPartition, QueryPlan } from './planner.js';
import { forPartition, type Consistency, type PartitionAnswer, type Query } from './types.js';

/** Calls in flight to one node from this coordinator, at most. */
export const DEFAULT_MAX_IN_FLIGHT_PER_NODE = 64;

/** How a remote copy is asked: the internal `ExecuteLocal` call, cancellable through `signal`. */
export interface PartitionTransport {
  executeLocal(address: string, request: unknown, options: { deadline: number; signal: AbortSignal }): Promise<unknown>;
}

/** Answers a partition this node holds, in-process. */
/**
 * Answers one partition on this node. `deadline` (ms since the epoch) is when the caller stops
 * waiting: work that can stop early with what it has (a consolidation) should.
 */
/** `consistency` `leader`: answer only once the copy has applied its group leader's read index. */
export type LocalRunner = (query: Query, space: string, deadline?: number, consistency?: Consistency) => Promise<PartitionAnswer>;

export interface ScatterOptions {
  transport: PartitionTransport;
  local: LocalRunner;
  /** Default DEFAULT_MAX_IN_FLIGHT_PER_NODE. */
  maxInFlightPerNode?: number;
  /** Told about every answer that came after its partition had settled (test and metrics hook). */
  onLateAnswer?: (partition: string, node: string) => void;
  /** Monotonic ms clock; default performance.now (tests inject a mocked one). */
  clock?: () => number;
}

/** The request is bad, whichever copy is asked: fail the query with it, do not try others. */
function badRequest(err: unknown, node: string): EngramError | undefined {
  if (err instanceof EngramError && err.code === 'ERR_INVALID_ARGUMENT') return err;
  const e = err as { code?: unknown; details?: unknown };
  if (e.code === grpcStatus.INVALID_ARGUMENT) return new RemoteInvalidArgumentError(node, String(e.details ?? (err as Error).message));
  return undefined;
}

/** A copy's failure, classified for the coverage block. */
function classify(err: unknown): { status: PartitionStatus; reason: string; retry: boolean } {
  const code = err instanceof EngramError ? err.grpcStatus : (err as { code?: unknown }).code;
  if (code === grpcStatus.UNAVAILABLE) return { status: 'unavailable', reason: failureReason(err), retry: true };
  if (code === grpcStatus.DEADLINE_EXCEEDED) return { status: 'timeout', reason: failureReason(err), retry: false };
  return { status: 'error', reason: failureReason(err), retry: true };
}

/**
 * Why a copy failed, for the coverage block, which the caller sees: our own messages as they
 * are, but never the transport's text of a failed call (it names addresses; the coverage names
 * the node instead).
 */
function failureReason(err: unknown): string {
  if (err instanceof ConnectionBackoffError) return `unreachable a moment ago; next dial in ${Math.ceil(err.retryInMs)} ms`;
  if (err instanceof EngramError || !(err instanceof Error)) return err instanceof Error ? err.message : String(err);
  const e = err as { code?: unknown; details?: unknown; metadata?: { get?(key: string): unknown[] } };
  if (typeof e.code !== 'number') return err.message;
  // The copy answered with a typed error (see src/wire/grpc-errors.ts): its message is ours.
  if (e.metadata?.get?.('engram-code')?.length && typeof e.details === 'string') return e.details;
  if (e.code === grpcStatus.UNAVAILABLE) return /ECONNREFUSED/.test(String(e.details)) ? 'unreachable (connection refused)' : 'unreachable';
  if (e.code === grpcStatus.DEADLINE_EXCEEDED) return 'no answer within the deadline';
  return `${grpcStatus[e.code] ?? e.code}: ${String(e.details ?? '')}`;
}

/** Limits calls in flight per node; a waiter gives up when its signal aborts. */
class NodeLimiter {
  readonly #inFlight = new Map<string, number>();
  readonly #waiting = new Map<string, (() => void)[]>();
  constructor(private readonly max: number) {}

  async acquire(node: string, signal: AbortSignal): Promise<() => void> {
    while ((this.#inFlight.get(node) ?? 0) >= this.max) {
      await new Promise<void>((resolve, reject) => {
        const queue = this.#waiting.get(node) ?? [];
        const wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const q = this.#waiting.get(node) ?? [];
          q.splice(q.indexOf(wake), 1);
          reject(new AbortError('gave up waiting for a call slot'));
        };
        queue.push(wake);
        this.#waiting.set(node, queue);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    this.#inFlight.set(node, (this.#inFlight.get(node) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight.set(node, (this.#inFlight.get(node) ?? 1) - 1);
      this.#waiting.get(node)?.shift()?.();
    };
  }
}

export class ScatterExecutor {
  readonly #transport: PartitionTransport;
  readonly #local: LocalRunner;
  readonly #limiter: NodeLimiter;
  readonly #onLate: ScatterOptions['onLateAnswer'];
  readonly #now: () => number;

  constructor(options: ScatterOptions) {
    this.#transport = options.transport;
    this.#local = options.local;
    this.#limiter = new NodeLimiter(options.maxInFlightPerNode ?? DEFAULT_MAX_IN_FLIGHT_PER_NODE);
    this.#onLate = options.onLateAnswer;
    this.#now = options.clock ?? nowMs;
  }

  /** One outcome per planned partition, in plan order, whatever order they settled in. */
  scatter(plan: QueryPlan, query: Query, consistency: Consistency = 'any'): Promise<PartitionOutcome[]> {
    return Promise.all(plan.partitions.map((p) => this.#partition(p, query, new Deadline(plan.timeoutMs, this.#now()), consistency)));
  }

  #partition(p: PlannedPartition, query: Query, deadline: Deadline, consistency: Consistency): Promise<PartitionOutcome> {
    const base = { index: p.index, partition: p.partition };
    if (p.copies.length === 0) {
      return Promise.resolve({ ...base, node: p.primary, role: 'primary', status: 'unavailable', reason: p.reason, latencyMs: 0 });
    }
    return new Promise<PartitionOutcome>((resolve) => {
      let settled = false;
      let current: { copy: PlannedCopy; controller: AbortController } | undefined;
      let last: { copy: PlannedCopy; status: PartitionStatus; reason: string } | undefined;
      const settle = (o: Omit<PartitionOutcome, 'index' | 'partition' | 'latencyMs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...base, ...o, latencyMs: deadline.elapsedMs(this.#now()) });
      };
      const expire = () => {
        // Node's timers run off a coarse cached clock and can fire up to a millisecond early:
        // a partition is only timed out once its deadline has really passed.
        if (!deadline.expired(this.#now())) {
          timer = setTimeout(expire, Math.max(1, Math.ceil(deadline.remainingMs(this.#now()))));
          timer.unref?.();
          return;
        }
        const copy = current?.copy ?? last?.copy ?? p.copies[0]!;
        // Cancel the call in flight: the copy stops working on an answer nobody will read.
        current?.controller.abort(new AbortError(`partition ${p.partition}: deadline of ${deadline.budgetMs} ms passed`));
        settle({ node: copy.node, role: copy.role, status: 'timeout', reason: `no answer from ${copy.node} within ${deadline.budgetMs} ms` });
      };
      let timer = setTimeout(expire, deadline.remainingMs(this.#now()));
      timer.unref?.();

      const single = forPartition(query, p.partition);
      const request = { query: queryToWire(single), partition: p.partition, ...(consistency === 'leader' ? { consistency: 'CONSISTENCY_LEADER' } : {}) };
      void (async () => {
        for (const copy of p.copies) {
          if (settled) return;
          const controller = new AbortController();
          current = { copy, controller };
          try {
            const answer = copy.local ? await this.#local(single, p.partition, Date.now() + deadline.remainingMs(this.#now()), consistency) : await this.#remote(copy, request, deadline, controller.signal);
            if (settled) {
              this.#onLate?.(p.partition, copy.node);
              return;
            }
            settle({ node: copy.node, role: copy.role, status: 'ok', reason: '', answer, ...(answer.copy ? { raftRole: answer.copy.raftRole, behind: answer.copy.behind } : {}) });
            return;
          } catch (err) {
            if (settled) return;
            const bad = badRequest(err, copy.node);
            if (bad) {
              settle({ node: copy.node, role: copy.role, status: 'error', reason: bad.message, fatal: bad });
              return;
            }
            const c = classify(err);
            last = { copy, status: c.status, reason: `${copy.node}: ${c.reason}` };
            if (!c.retry) break;
          } finally {
            if (current?.controller === controller) current = undefined;
          }
        }
        if (last) settle({ node: last.copy.node, role: last.copy.role, status: last.status, reason: last.reason });
      })();
    });
  }

  async #remote(copy: PlannedCopy, request: unknown, deadline: Deadline, signal: AbortSignal): Promise<PartitionAnswer> {
    const release = await this.#limiter.acquire(copy.node, signal);
    try {
      const msg = await this.#transport.executeLocal(copy.address, request, { deadline: deadline.wallClock(this.#now()), signal });
      return partitionFromWire(msg as Parameters<typeof partitionFromWire>[0]);
    } finally {
      release();
    }
  }
}

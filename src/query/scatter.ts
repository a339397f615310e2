/**
 * The scatter phase: every planned partition is dispatched at once. A partition asks its copies
 * in the planned (ranked) order within one deadline, the smaller of its own budget and the
 * query's; a copy that fails hands over to the next, and a copy that is merely slow is hedged
 * (hedging.ts): the next copy is asked too and the first answer wins. When the partition
 * settles, every call of it still in flight is cancelled (its AbortSignal fires, the transport
 * cancels it on the wire), not merely abandoned; whatever arrives after that is dropped, never
 * merged. The scatter talks to copies only through a PartitionClient: it knows answers and typed
 * failures, not status codes or codecs.
 */
import { AbortError, EngramError } from '../errors.js';
import { Deadline, nowMs } from './deadline.js';
import { NEVER_ABORTED, type QueryContext } from './context.js';
import type { CopyRanker } from './copy-ranking.js';
import type { PartitionStatus } from './coverage.js';
import type { Hedger } from './hedging.js';
import type { PartitionOutcome } from './outcome.js';
import { PartitionCallError, type PartitionClient, type PartitionRequest } from './partition-client.js';
import type { PlannedCopy, PlannedPartition, QueryPlan } from './planner.js';
import { failSpan, SPAN_PARTITION, SpanKind, tracer, withSpan, type Context, type Span } from './tracing.js';
import { forPartition, type Consistency, type PartitionQuery, type Query } from './types.js';

/** Calls in flight to one node from this coordinator, at most. */
export const DEFAULT_MAX_IN_FLIGHT_PER_NODE = 64;

export interface ScatterOptions {
  client: PartitionClient;
  /** Default DEFAULT_MAX_IN_FLIGHT_PER_NODE. */
  maxInFlightPerNode?: number;
  /** Told about every answer that came after its partition had settled (test and metrics hook). */
  onLateAnswer?: (partition: string, node: string) => void;
  /** Told about each hedge sent, and each one whose answer won. */
  onHedge?: (event: 'sent' | 'won') => void;
  /** Learns each copy's response time (the planner orders copies by it). */
  ranker?: CopyRanker;
  /** When to ask a second copy; none: never. */
  hedger?: Hedger;
  /** Monotonic ms clock; default performance.now (tests inject a mocked one). */
  clock?: () => number;
}

/** What one scatter needs besides the plan. */
export interface ScatterRequest {
  query: Query;
  /** What each partition is asked; default: the single-partition form of `query`. */
  partitionQuery?: (p: PlannedPartition) => PartitionQuery;
  consistency?: Consistency;
  /** The query's deadline and cancellation; default: the plan's budget from now, never cancelled. */
  context?: QueryContext;
  /** Ask copies for the client's final answer (a single-partition query; see PartitionRequest.final). */
  final?: { partitioned: boolean };
  /** Default true; false sends no hedge (QueryOptions.preference `local`). */
  hedge?: boolean;
  /** The query span's context: each call to a copy gets an `engram.partition` span under it. None: no spans. */
  trace?: Context;
  /**
   * The first calls of this scatter to one node may travel as one request (a Spread round:
   * quick entries with one deadline). Default false: every call goes alone.
   */
  batch?: boolean;
}

/** How a call's span ends: its coverage status, or why it stopped without one. */
type CallSpanStatus = PartitionStatus | 'cancelled' | 'late';

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

/** A call to one copy, in flight. */
interface Attempt {
  copy: PlannedCopy;
  /** Cancels the call; none for this node's own copy (the in-process runner takes no signal). */
  controller: AbortController | undefined;
  startedAt: number;
  /** The call's `engram.partition` span, when the query is traced. */
  span?: Span;
  /** The span's context, sent with the call. */
  trace?: Context;
  /** Why the partition stopped waiting for this call, when it did (set before it is cancelled). */
  stoppedAs?: CallSpanStatus;
}

/** Ends a call's span with its status; a failure is an ERROR with the exception. */
function endCallSpan(span: Span, status: CallSpanStatus, err?: unknown): void {
  span.setAttribute('engram.status', status);
  if (err !== undefined && status !== 'cancelled') failSpan(span, err);
  span.end();
}

export class ScatterExecutor {
  readonly #client: PartitionClient;
  readonly #limiter: NodeLimiter;
  readonly #onLate: ScatterOptions['onLateAnswer'];
  readonly #onHedge: ScatterOptions['onHedge'];
  readonly #ranker: CopyRanker | undefined;
  readonly #hedger: Hedger | undefined;
  readonly #now: () => number;

  constructor(options: ScatterOptions) {
    this.#client = options.client;
    this.#limiter = new NodeLimiter(options.maxInFlightPerNode ?? DEFAULT_MAX_IN_FLIGHT_PER_NODE);
    this.#onLate = options.onLateAnswer;
    this.#onHedge = options.onHedge;
    this.#ranker = options.ranker;
    this.#hedger = options.hedger;
    this.#now = options.clock ?? nowMs;
  }

  /** One outcome per planned partition, in plan order, whatever order they settled in. */
  scatter(plan: QueryPlan, request: ScatterRequest): Promise<PartitionOutcome[]> {
    const now = this.#now();
    const own = new Deadline(plan.timeoutMs, now);
    const deadline = request.context ? Deadline.earliest(own, request.context.deadline) : own;
    // A signal that can never fire needs no listener per partition.
    const signal = request.context?.signal === NEVER_ABORTED ? undefined : request.context?.signal;
    // One key per scatter: only this scatter's first calls, which share its deadline, travel together.
    const batch = request.batch ? {} : undefined;
    return Promise.all(plan.partitions.map((p) => this.#partition(p, request, deadline, signal, batch)));
  }

  #partition(p: PlannedPartition, request: ScatterRequest, deadline: Deadline, querySignal: AbortSignal | undefined, batch: object | undefined): Promise<PartitionOutcome> {
    const base = { index: p.index, partition: p.partition };
    if (p.copies.length === 0) {
      return Promise.resolve({ ...base, node: p.primary, role: 'primary', status: 'unavailable', reason: p.reason, latencyMs: 0 });
    }
    const partitionRequest: PartitionRequest = {
      query: request.partitionQuery ? request.partitionQuery(p) : forPartition(request.query, p.partition),
      partition: p.partition,
      consistency: request.consistency ?? 'any',
      ...(request.final ? { final: request.final } : {}),
    };
    const kind = partitionRequest.query.kind;
    return new Promise<PartitionOutcome>((resolve) => {
      let settled = false;
      let next = 0;
      let hedged = false;
      const inFlight = new Set<Attempt>();
      let last: { copy: PlannedCopy; status: PartitionStatus; reason: string } | undefined;
      let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
      let hedgeTimer: ReturnType<typeof setTimeout> | undefined;

      const cancelAll = (reason: Error) => {
        for (const a of inFlight) a.controller?.abort(reason);
        inFlight.clear();
      };
      const stopAll = (as: CallSpanStatus) => {
        for (const a of inFlight) a.stoppedAs = as;
      };
      const settle = (o: Omit<PartitionOutcome, 'index' | 'partition' | 'latencyMs' | 'hedged'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadlineTimer);
        clearTimeout(hedgeTimer);
        querySignal?.removeEventListener('abort', onCancel);
        // The losers of a hedge, and anything still running when the deadline passed, stop now.
        // (The error is only made when there is a call to cancel: most partitions settle with
        // none left, and an Error's stack trace is a noticeable share of an in-process query.)
        if (inFlight.size > 0) cancelAll(new AbortError(`partition ${p.partition}: settled`));
        resolve({ ...base, ...o, latencyMs: deadline.elapsedMs(this.#now()), ...(hedged ? { hedged } : {}) });
      };
      const onCancel = () => {
        stopAll('cancelled');
        const copy = [...inFlight][0]?.copy ?? last?.copy ?? p.copies[0]!;
        settle({ node: copy.node, role: copy.role, status: 'error', reason: 'the caller cancelled the query' });
      };
      const expire = () => {
        // Node's timers run off a coarse cached clock and can fire up to a millisecond early:
        // a partition is only timed out once its deadline has really passed.
        if (!deadline.expired(this.#now())) {
          deadlineTimer = setTimeout(expire, Math.max(1, Math.ceil(deadline.remainingMs(this.#now()))));
          deadlineTimer.unref?.();
          return;
        }
        const running = [...inFlight];
        stopAll('timeout');
        const copy = running[0]?.copy ?? last?.copy ?? p.copies[0]!;
        for (const a of running) this.#ranker?.penalise(a.copy.node, this.#now() - a.startedAt);
        const who = running.length > 0 ? running.map((a) => a.copy.node).join(' or ') : copy.node;
        settle({ node: copy.node, role: copy.role, status: 'timeout', reason: `no answer from ${who} within ${Math.round(deadline.budgetMs)} ms` });
      };

      /** Asks the next copy in order; false when none is left. */
      const launch = (hedge = false): boolean => {
        if (settled || next >= p.copies.length) return false;
        const copy = p.copies[next++]!;
        const attempt: Attempt = { copy, controller: copy.local ? undefined : new AbortController(), startedAt: this.#now() };
        if (request.trace) {
          attempt.span = tracer.startSpan(SPAN_PARTITION, {
            kind: copy.local ? SpanKind.INTERNAL : SpanKind.CLIENT,
            attributes: { 'engram.partition': p.partition, 'engram.node': copy.node, 'engram.copy.role': copy.role, 'engram.copy.local': copy.local === true, 'engram.attempt': next - 1, 'engram.hedge': hedge },
          }, request.trace);
          attempt.trace = withSpan(request.trace, attempt.span);
          if (hedge) for (const a of inFlight) a.span?.setAttribute('engram.hedged', true);
        }
        inFlight.add(attempt);
        // A failover or a hedge leaves later, alone.
        void this.#attempt(attempt, partitionRequest, deadline, next === 1 ? batch : undefined).then(
          (reply) => {
            inFlight.delete(attempt);
            if (attempt.span) endCallSpan(attempt.span, settled ? 'late' : 'ok');
            if (settled) {
              this.#onLate?.(p.partition, copy.node);
              return;
            }
            const answeredIn = this.#now() - attempt.startedAt;
            this.#hedger?.record(kind, answeredIn);
            if (hedged && attempt !== first) this.#onHedge?.('won');
            // The copy that lost a hedge race was slow: the ranking learns it before it is cancelled.
            for (const other of inFlight) this.#ranker?.penalise(other.copy.node, this.#now() - other.startedAt);
            const answer = reply.answer;
            settle({ node: copy.node, role: copy.role, status: 'ok', reason: '', answer, ...(answer.copy ? { raftRole: answer.copy.raftRole, behind: answer.copy.behind } : {}) });
          },
          (err: unknown) => {
            inFlight.delete(attempt);
            if (attempt.span) {
              const status = settled ? (attempt.stoppedAs ?? 'cancelled') : err instanceof PartitionCallError ? err.status : 'error';
              endCallSpan(attempt.span, status, err);
            }
            if (settled) return;
            if (err instanceof EngramError && err.code === 'ERR_INVALID_ARGUMENT') {
              settle({ node: copy.node, role: copy.role, status: 'error', reason: err.message, fatal: err });
              return;
            }
            const f = err instanceof PartitionCallError ? err : new PartitionCallError('error', err instanceof Error ? err.message : String(err), true, { cause: err });
            this.#ranker?.penalise(copy.node, this.#now() - attempt.startedAt);
            last = { copy, status: f.status, reason: `${copy.node}: ${f.reason}` };
            // A failed copy hands over at once (a hedge in flight may still answer).
            if (f.retry && launch()) return;
            if (!f.retry) next = p.copies.length;
            if (inFlight.size === 0) settle({ node: copy.node, role: copy.role, status: f.status, reason: last.reason });
          },
        );
        return true;
      };

      if (querySignal?.aborted) {
        onCancel();
        return;
      }
      querySignal?.addEventListener('abort', onCancel, { once: true });
      deadlineTimer = setTimeout(expire, deadline.remainingMs(this.#now()));
      deadlineTimer.unref?.();
      launch();
      const first = [...inFlight][0];
      this.#hedger?.earn();
      const hedgeAfter = p.copies.length > 1 && request.hedge !== false ? this.#hedger?.delayMs(kind) : undefined;
      if (hedgeAfter !== undefined && hedgeAfter < deadline.remainingMs(this.#now())) {
        hedgeTimer = setTimeout(() => {
          // Only a first call still waiting is hedged; a failover already asked the next copy.
          if (settled || inFlight.size !== 1 || first === undefined || !inFlight.has(first)) return;
          if (!this.#hedger!.take()) return;
          if (launch(true)) {
            hedged = true;
            this.#onHedge?.('sent');
          }
        }, hedgeAfter);
        hedgeTimer.unref?.();
      }
    });
  }

  /** One call to one copy, through the per-node limit for remote copies, ranked by its outcome. */
  async #attempt(a: Attempt, request: PartitionRequest, deadline: Deadline, batch: object | undefined) {
    const signal = a.controller?.signal ?? NEVER_ABORTED;
    const release = a.copy.local ? undefined : await this.#limiter.acquire(a.copy.node, signal);
    const end = this.#ranker?.begin(a.copy.node);
    try {
      const reply = await this.#client.call(a.copy, request, { deadline, signal, ...(a.trace ? { trace: a.trace } : {}), ...(batch ? { batch } : {}) });
      end?.({ responseMs: this.#now() - a.startedAt, ...(reply.load ? { serviceMs: reply.load.serviceMs, queue: reply.load.queue } : {}) });
      return reply;
    } finally {
      end?.();
      release?.();
    }
  }
}

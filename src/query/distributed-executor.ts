/**
 * The distributed executor: plan → scatter → gather, under one deadline and one cancellation
 * (DESIGN §8). A partition this node holds is answered in-process; the others over the internal
 * gRPC service. Copies are ranked by measurement and a slow one is hedged. A missing partition
 * weakens the answer (coverage, penalty) instead of failing it, unless the caller asked for full
 * coverage or nothing answered at all.
 */
import { AbortError, AllPartitionsFailedError, InsufficientCoverageError, InvalidArgumentError, QueryDeadlineExceededError } from '../errors.js';
import type { ClusterView } from '../cluster/cluster-view.js';
import * as gather from '../gather/gather-engine.js';
import { NEVER_ABORTED, type ExecuteContext, type QueryContext } from './context.js';
import { CopyRanker } from './copy-ranking.js';
import { buildCoverage, type Coverage } from './coverage.js';
import { Deadline, nowMs } from './deadline.js';
import type { QueryExecutor } from './executor.js';
import { gatherAnswers } from './gather-answers.js';
import { Hedger, type HedgeOptions } from './hedging.js';
import { localPartitionClient, type LocalRunner } from './local-partition-client.js';
import type { PartitionOutcome } from './outcome.js';
import { splitPartitionClient, type PartitionClient } from './partition-client.js';
import { QueryPlanner, type ExecutionStrategy, type QueryPlan } from './planner.js';
import { remotePartitionClient, type PartitionTransport } from './remote-partition-client.js';
import type { QueryResult } from './result.js';
import { ScatterExecutor, type ScatterOptions } from './scatter.js';
import { activeContext, failSpan, SPAN_GATHER, SPAN_PLAN, SPAN_QUERY, traceContext, tracer, type Context } from './tracing.js';
import { isCrossSpread, type Query, type QueryOptions } from './types.js';
import { crossSpread, type CrossSpreadStats } from './cross-spread.js';

/** What the executor reports about each query (prom-client metrics in the node). */
export interface QueryObserver {
  scatter(durationS: number, fanout: number): void;
  partition(node: string, status: string, durationS: number): void;
  query(strategy: ExecutionStrategy, result: 'full' | 'partial' | 'failed', durationS: number, penalty: number | undefined): void;
  /** A hedge was sent, or a hedge's answer won. */
  hedge?(event: 'sent' | 'won'): void;
  /** A Spread over several spaces ended (answered or not): its rounds, pulse bytes and merge time. */
  crossSpread?(stats: CrossSpreadStats): void;
}

export interface DistributedExecutorOptions extends Omit<ScatterOptions, 'client' | 'ranker' | 'hedger' | 'onHedge'> {
  view: ClusterView;
  /** How copies are asked. Default: `local` for this node's copies, `transport` for the others. */
  client?: PartitionClient;
  /** Remote copies' transport (`poolTransport(pool)`), when no `client` is given. */
  transport?: PartitionTransport;
  /** This node's own copies, when no `client` is given. */
  local?: LocalRunner;
  observer?: QueryObserver;
  /** Order copies by measured response time (copy-ranking.ts). Default true. */
  ranking?: boolean;
  /** When to ask a second copy of a slow partition (hedging.ts). Default: on, 5% budget. */
  hedging?: HedgeOptions;
}

/**
 * What a query sends back over the wire: a result to serialize, or (a single partition answered
 * by another node in the client's own form) that node's bytes, to pass on with this coverage.
 */
export type WireAnswer = { kind: 'result'; result: QueryResult } | { kind: 'encoded'; body: Uint8Array; coverage: Coverage };

export class DistributedExecutor implements QueryExecutor {
  readonly planner: QueryPlanner;
  readonly scatterer: ScatterExecutor;
  /** Each copy's measured rank (undefined with `ranking: false`). */
  readonly ranker: CopyRanker | undefined;
  readonly hedger: Hedger;
  readonly #observer: QueryObserver | undefined;

  constructor(options: DistributedExecutorOptions) {
    const client = options.client ?? splitPartitionClient(
      localPartitionClient(options.local ?? (() => Promise.reject(new Error('this node holds no copies')))),
      options.transport ? remotePartitionClient(options.transport) : { call: () => Promise.reject(new Error('no transport to other nodes')) },
    );
    if (!options.client && !options.transport && !options.local) throw new InvalidArgumentError('client', undefined, 'give a PartitionClient, or a transport and/or a local runner');
    this.ranker = options.ranking === false ? undefined : new CopyRanker();
    this.hedger = new Hedger(options.hedging);
    this.#observer = options.observer;
    this.planner = new QueryPlanner(options.view, this.ranker ? { ranker: this.ranker } : {});
    this.scatterer = new ScatterExecutor({
      ...options,
      client,
      ...(this.ranker ? { ranker: this.ranker } : {}),
      hedger: this.hedger,
      onHedge: (e) => this.#observer?.hedge?.(e),
    });
  }

  /** Runs `query`; the result carries its coverage. */
  async execute(query: Query, options: QueryOptions = {}, context: ExecuteContext = {}): Promise<QueryResult> {
    const answer = await this.#run(query, options, context, false);
    if (answer.kind !== 'result') throw new Error('unreachable: an encoded answer to a query that did not ask for one');
    return answer.result;
  }

  /**
   * Runs `query` for a gRPC caller: a single partition answered by another node comes back in
   * the client's own form, to be passed on as bytes (no decode and re-encode here).
   */
  executeForWire(query: Query, options: QueryOptions = {}, context: ExecuteContext = {}): Promise<WireAnswer> {
    return this.#run(query, options, context, true);
  }

  async #run(query: Query, options: QueryOptions, context: ExecuteContext, wire: boolean): Promise<WireAnswer> {
    const started = nowMs();
    // Without an SDK this is the API's no-op span and `traced` is undefined: no other span work.
    const parent = context.trace ?? activeContext();
    const span = tracer.startSpan(SPAN_QUERY, undefined, parent);
    const traced = traceContext(span, parent);
    let strategy: ExecutionStrategy | undefined;
    try {
      if (traced) span.setAttribute('engram.query.kind', query.kind);
      const plan = traced ? this.#tracedPlan(query, options, context, traced) : this.planner.plan(query, options, context.strategy);
      strategy = plan.strategy;
      if (traced) span.setAttributes({ 'engram.query.strategy': plan.strategy, 'engram.query.partitions': plan.partitions.length, 'engram.query.timeout_ms': plan.timeoutMs });
      const ctx: QueryContext = {
        deadline: Deadline.earliest(new Deadline(plan.timeoutMs, started), context.deadline),
        signal: context.signal ?? NEVER_ABORTED,
      };
      if (isCrossSpread(query)) {
        const stats = { rounds: 0, bytesSent: 0, bytesReceived: 0, mergeMs: 0 };
        let result: QueryResult;
        try {
          result = await crossSpread({
            scatterer: this.scatterer, plan, query, options, context: ctx, stats,
            onPartition: (o) => this.#observer?.partition(o.node || 'none', o.status, o.latencyMs / 1000),
            ...(traced ? { trace: traced } : {}),
          });
        } finally {
          this.#observer?.crossSpread?.(stats);
        }
        const full = result.coverage.full ? 'full' : 'partial';
        this.#observer?.query(plan.strategy, full, (nowMs() - started) / 1000, result.coverage.penalty);
        if (traced) span.setAttributes({ 'engram.query.result': full, 'engram.query.penalty': result.coverage.penalty, 'engram.spread.rounds': stats.rounds });
        return { kind: 'result', result };
      }
      const final = wire && plan.partitions.length === 1 ? { partitioned: plan.partitioned } : undefined;
      const outcomes = await this.scatterer.scatter(plan, {
        query,
        context: ctx,
        ...(options.consistency ? { consistency: options.consistency } : {}),
        ...(final ? { final } : {}),
        ...(options.preference === 'local' ? { hedge: false } : {}),
        ...(traced ? { trace: traced } : {}),
      });
      this.#observer?.scatter((nowMs() - started) / 1000, plan.partitions.length);
      for (const o of outcomes) this.#observer?.partition(o.node || 'none', o.status, o.latencyMs / 1000);
      if (ctx.signal.aborted) throw new AbortError('the caller cancelled the query', { cause: ctx.signal.reason });
      const fatal = outcomes.find((o) => o.fatal)?.fatal;
      if (fatal) throw fatal;
      const encoded = outcomes.length === 1 && outcomes[0]!.answer?.kind === 'response' ? outcomes[0]! : undefined;
      if (encoded) {
        const coverage = this.#passedOnCoverage(plan, encoded);
        this.#observer?.query(plan.strategy, 'full', (nowMs() - started) / 1000, coverage.penalty);
        if (traced) span.setAttributes({ 'engram.query.result': 'full', 'engram.query.penalty': coverage.penalty });
        return { kind: 'encoded', body: (encoded.answer as { response: Uint8Array }).response, coverage };
      }
      const gathering = traced ? tracer.startSpan(SPAN_GATHER, { attributes: { 'engram.gather.answers': outcomes.filter((o) => o.answer).length } }, traced) : undefined;
      let result: QueryResult;
      try {
        result = await gatherAnswers(query, outcomes, options, plan.partitioned, ctx.deadline.budgetMs, ctx.signal);
      } catch (err) {
        if (gathering) failSpan(gathering, err);
        throw err;
      } finally {
        gathering?.end();
      }
      const full = result.coverage.full ? 'full' : 'partial';
      this.#observer?.query(plan.strategy, full, (nowMs() - started) / 1000, result.coverage.penalty);
      if (traced) span.setAttributes({ 'engram.query.result': full, 'engram.query.penalty': result.coverage.penalty });
      return { kind: 'result', result };
    } catch (err) {
      if (strategy !== undefined && (err instanceof AllPartitionsFailedError || err instanceof InsufficientCoverageError || err instanceof QueryDeadlineExceededError)) {
        this.#observer?.query(strategy, 'failed', (nowMs() - started) / 1000, undefined);
      }
      if (traced) {
        span.setAttribute('engram.query.result', 'failed');
        failSpan(span, err);
      }
      throw err;
    } finally {
      span.end();
    }
  }

  /** Plans under an `engram.plan` span. */
  #tracedPlan(query: Query, options: QueryOptions, context: ExecuteContext, traced: Context): QueryPlan {
    const span = tracer.startSpan(SPAN_PLAN, undefined, traced);
    try {
      const plan = this.planner.plan(query, options, context.strategy);
      span.setAttributes({ 'engram.query.strategy': plan.strategy, 'engram.query.partitions': plan.partitions.length });
      return plan;
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  /** The coverage of a single partition whose copy answered in the client's form (its penalty applied there). */
  #passedOnCoverage(plan: QueryPlan, o: PartitionOutcome): Coverage {
    const { answer: _a, index: _i, fatal: _f, ...entry } = o;
    return buildCoverage([entry], gather.penalty(1, 0, plan.partitioned), plan.partitioned);
  }
}

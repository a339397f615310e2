/**
 * The distributed executor: plan → scatter → gather. A partition this node holds is answered
 * in-process; the others over the internal gRPC service, each within its deadline. A missing
 * partition weakens the answer (coverage, penalty) instead of failing it, unless the caller
 * asked for full coverage or nothing answered at all.
 */
import { AllPartitionsFailedError, InsufficientCoverageError } from '../errors.js';
import type { ClusterView } from '../cluster/cluster-view.js';
import { Deadline } from './deadline.js';
import type { QueryExecutor } from './executor.js';
import { gatherAnswers } from './gather-answers.js';
import { QueryPlanner, type ExecutionStrategy } from './planner.js';
import type { QueryResult } from './result.js';
import { ScatterExecutor, type ScatterOptions } from './scatter.js';
import type { Query, QueryOptions } from './types.js';

/** What the executor reports about each query (prom-client metrics in the node). */
export interface QueryObserver {
  scatter(durationS: number, fanout: number): void;
  partition(node: string, status: string, durationS: number): void;
  query(strategy: ExecutionStrategy, result: 'full' | 'partial' | 'failed', durationS: number, penalty: number | undefined): void;
}

export interface DistributedExecutorOptions extends ScatterOptions {
  view: ClusterView;
  observer?: QueryObserver;
}

export class DistributedExecutor implements QueryExecutor {
  readonly planner: QueryPlanner;
  readonly scatterer: ScatterExecutor;
  readonly #observer: QueryObserver | undefined;

  constructor(options: DistributedExecutorOptions) {
    this.planner = new QueryPlanner(options.view);
    this.scatterer = new ScatterExecutor(options);
    this.#observer = options.observer;
  }

  async execute(query: Query, options: QueryOptions = {}, strategy?: ExecutionStrategy): Promise<QueryResult> {
    const total = new Deadline(0);
    const plan = this.planner.plan(query, options, strategy);
    const outcomes = await this.scatterer.scatter(plan, query, options.consistency);
    this.#observer?.scatter(total.elapsedMs() / 1000, plan.partitions.length);
    for (const o of outcomes) this.#observer?.partition(o.node || 'none', o.status, o.latencyMs / 1000);
    const fatal = outcomes.find((o) => o.fatal)?.fatal;
    if (fatal) throw fatal;
    try {
      const result = await gatherAnswers(query, outcomes, options, plan.partitioned);
      this.#observer?.query(plan.strategy, result.coverage.full ? 'full' : 'partial', total.elapsedMs() / 1000, result.coverage.penalty);
      return result;
    } catch (err) {
      if (err instanceof AllPartitionsFailedError || err instanceof InsufficientCoverageError) {
        this.#observer?.query(plan.strategy, 'failed', total.elapsedMs() / 1000, undefined);
      }
      throw err;
    }
  }
}

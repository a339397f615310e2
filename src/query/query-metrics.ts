/**
 * Prometheus metrics of distributed query execution, on an injected prom-client Registry (never
 * the global one). Names follow Prometheus conventions: base units (seconds), `_total` counters.
 * The executor reports through scatter() / partition() / query(); the connection pool through
 * poolMetrics().
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { PoolMetrics } from '../pool/pool-metrics.js';
import type { CrossSpreadStats } from './cross-spread.js';

export type QueryStrategyLabel = 'single' | 'multi' | 'broadcast';
export type QueryResultLabel = 'full' | 'partial' | 'failed';
export type PartitionStatusLabel = 'ok' | 'timeout' | 'unavailable' | 'error';

const STRATEGIES: readonly QueryStrategyLabel[] = ['single', 'multi', 'broadcast'];
const RESULTS: readonly QueryResultLabel[] = ['full', 'partial', 'failed'];
const STATUSES: readonly PartitionStatusLabel[] = ['ok', 'timeout', 'unavailable', 'error'];

/** Latency buckets, seconds: 0.5 ms (an in-process partition) to 10 s (past the 5 s multi-partition default). */
const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Partitions per query. */
const FANOUT_BUCKETS = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89];
/** The penalty is capped at 0.5 (DESIGN §3); 0 gets its own bucket so full answers stand apart. */
const PENALTY_BUCKETS = [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5];

export class QueryMetrics {
  readonly #scatterDuration: Histogram;
  readonly #fanout: Histogram;
  readonly #partitionDuration: Histogram<'target_node' | 'status'>;
  readonly #partitions: Counter<'status'>;
  readonly #penalty: Histogram;
  readonly #queries: Counter<'strategy' | 'result'>;
  readonly #partial: Counter;
  readonly #queryDuration: Histogram<'strategy'>;
  readonly #connectionsCreated: Counter;
  readonly #connectionCalls: Counter<'reused'>;
  readonly #connectionEvictions: Counter;
  readonly #hedges: Counter<'event'>;
  readonly #spreadRounds: Histogram;
  readonly #pulseBytes: Counter<'direction'>;
  readonly #pulseMerge: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#scatterDuration = new Histogram({
      name: 'engram_cluster_query_scatter_duration_seconds',
      help: 'Time from dispatching a query to its partitions until every partition answered, failed or timed out.',
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.#fanout = new Histogram({
      name: 'engram_cluster_query_scatter_fanout',
      help: 'Partitions one query was scattered to.',
      buckets: FANOUT_BUCKETS,
      registers,
    });
    // `target_node`, not `node`: the node's registry labels every series with `node` (the node
    // reporting), and a metric label of the same name would silently replace it.
    this.#partitionDuration = new Histogram({
      name: 'engram_cluster_query_partition_duration_seconds',
      help: 'Time for one partition of a query, by the node that answered it (or was tried last) and its status.',
      labelNames: ['target_node', 'status'] as const,
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.#partitions = new Counter({
      name: 'engram_cluster_query_partitions_total',
      help: 'Partitions of queries, by status: ok, timeout, unavailable, error.',
      labelNames: ['status'] as const,
      registers,
    });
    this.#penalty = new Histogram({
      name: 'engram_cluster_query_confidence_penalty',
      help: 'Confidence penalty applied to answered queries for missing partitions (0 to 0.5).',
      buckets: PENALTY_BUCKETS,
      registers,
    });
    this.#queries = new Counter({
      name: 'engram_cluster_queries_total',
      help: 'Distributed queries, by strategy (single, multi, broadcast) and result (full, partial, failed).',
      labelNames: ['strategy', 'result'] as const,
      registers,
    });
    this.#partial = new Counter({
      name: 'engram_cluster_query_partial_results_total',
      help: 'Queries answered with at least one partition missing.',
      registers,
    });
    this.#queryDuration = new Histogram({
      name: 'engram_cluster_query_duration_seconds',
      help: 'Time to plan, scatter and gather one distributed query, by strategy.',
      labelNames: ['strategy'] as const,
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.#connectionsCreated = new Counter({
      name: 'engram_cluster_connections_created_total',
      help: 'gRPC connections the query connection pool opened to other nodes.',
      registers,
    });
    this.#connectionCalls = new Counter({
      name: 'engram_cluster_connection_calls_total',
      help: 'Calls the query connection pool dispatched, by whether their connection already existed (reused).',
      labelNames: ['reused'] as const,
      registers,
    });
    this.#connectionEvictions = new Counter({
      name: 'engram_cluster_connection_evictions_total',
      help: 'Pooled connections closed after a transport failure.',
      registers,
    });
    this.#hedges = new Counter({
      name: 'engram_cluster_query_hedges_total',
      help: 'Hedged partition requests (a second copy asked because the first was slow): event="sent" each one sent, event="won" each whose answer came first.',
      labelNames: ['event'] as const,
      registers,
    });
    this.#spreadRounds = new Histogram({
      name: 'engram_cluster_spread_rounds',
      help: 'Rounds of one Spread over several spaces (the seeds\' round, then one per hop).',
      buckets: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      registers,
    });
    this.#pulseBytes = new Counter({
      name: 'engram_cluster_spread_pulse_bytes_total',
      help: 'Pulse columns of Spreads over several spaces: direction="sent" to partitions (seeds, frontiers, arriving pulses), "received" from them (reached memories, leaving pulses).',
      labelNames: ['direction'] as const,
      registers,
    });
    this.#pulseMerge = new Counter({
      name: 'engram_cluster_spread_merge_seconds_total',
      help: 'Time the coordinator of Spreads over several spaces spent in the pulse sum merges.',
      registers,
    });
    this.#pulseBytes.inc({ direction: 'sent' }, 0);
    this.#pulseBytes.inc({ direction: 'received' }, 0);
    this.#hedges.inc({ event: 'sent' }, 0);
    this.#hedges.inc({ event: 'won' }, 0);
    // Series with known label values start at 0, so rate() and ratios see them before the first event.
    for (const status of STATUSES) this.#partitions.inc({ status }, 0);
    for (const strategy of STRATEGIES) for (const result of RESULTS) this.#queries.inc({ strategy, result }, 0);
    this.#connectionCalls.inc({ reused: 'true' }, 0);
    this.#connectionCalls.inc({ reused: 'false' }, 0);
  }

  /** One scatter finished: its duration in seconds and the number of partitions it went to. */
  scatter(durationS: number, fanout: number): void {
    this.#scatterDuration.observe(durationS);
    this.#fanout.observe(fanout);
  }

  /** One partition settled: the node that answered (or was tried last), its status, its latency in seconds. */
  partition(node: string, status: PartitionStatusLabel, durationS: number): void {
    this.#partitionDuration.observe({ target_node: node, status }, durationS);
    this.#partitions.inc({ status });
  }

  /**
   * One query finished. `penalty` is observed for answered queries (full or partial) and ignored
   * for failed ones, which returned no confidences to weaken.
   */
  query(strategy: QueryStrategyLabel, result: QueryResultLabel, durationS: number, penalty: number | undefined): void {
    this.#queries.inc({ strategy, result });
    this.#queryDuration.observe({ strategy }, durationS);
    if (result === 'partial') this.#partial.inc();
    if (result !== 'failed' && penalty !== undefined) this.#penalty.observe(penalty);
  }

  /** A hedge was sent, or a hedge's answer won its race. */
  hedge(event: 'sent' | 'won'): void {
    this.#hedges.inc({ event });
  }

  /** A Spread over several spaces ended, answered or not. */
  crossSpread(stats: CrossSpreadStats): void {
    this.#spreadRounds.observe(stats.rounds);
    this.#pulseBytes.inc({ direction: 'sent' }, stats.bytesSent);
    this.#pulseBytes.inc({ direction: 'received' }, stats.bytesReceived);
    this.#pulseMerge.inc(stats.mergeMs / 1000);
  }

  /** The connection pool's hook: `new ConnectionPool({ metrics: queryMetrics.poolMetrics() })`. */
  poolMetrics(): PoolMetrics {
    return {
      connectionCreated: () => this.#connectionsCreated.inc(),
      connectionCall: (_address, reused) => this.#connectionCalls.inc({ reused: reused ? 'true' : 'false' }),
      connectionEvicted: () => this.#connectionEvictions.inc(),
    };
  }
}

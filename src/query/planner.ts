/**
 * The planner: which partitions a query needs, and for each the copies to try in order
 * (DESIGN §2, §5). Partitions are memory spaces; copies are the primary and its replicas.
 */
import type { ClusterView, Member } from '../cluster/cluster-view.js';
import { InvalidArgumentError, SpaceNotFoundError } from '../errors.js';
import type { CopyRole } from './coverage.js';
import type { CopyRanker } from './copy-ranking.js';
import { isCrossSpread, querySpaces, type Query, type QueryOptions } from './types.js';

/** Per-partition deadline of a single-partition query when the caller gives none, ms. */
export const DEFAULT_SINGLE_PARTITION_TIMEOUT_MS = 500;
/** Per-partition deadline of a multi-partition query when the caller gives none, ms. */
export const DEFAULT_MULTI_PARTITION_TIMEOUT_MS = 5_000;
/** Largest per-partition deadline a caller may ask for, ms. */
export const MAX_TIMEOUT_MS = 600_000;

export type ExecutionStrategy = 'single' | 'multi' | 'broadcast';

export interface PlannedCopy {
  node: string;
  /** gRPC address of the node. */
  address: string;
  role: CopyRole;
  /** This node holds the copy: answer in-process, no network hop. */
  local: boolean;
}

export interface PlannedPartition {
  /** Stable index in the plan: the gather's order never depends on arrival order. */
  index: number;
  partition: string;
  /** Copies to try, in order; empty when every copy is on a member known down. */
  copies: PlannedCopy[];
  /** Why there is no copy to try (when `copies` is empty). */
  reason: string;
  /** The space's primary, named in the coverage when no copy could be tried. */
  primary: string;
}

export interface QueryPlan {
  strategy: ExecutionStrategy;
  partitions: PlannedPartition[];
  /** Per-partition deadline, ms. */
  timeoutMs: number;
  /** This node saw itself partitioned when planning (adds to the penalty). */
  partitioned: boolean;
}

const reachable = (m: Member | undefined) => m !== undefined && (m.state === 'alive' || m.state === 'suspect');

export interface QueryPlannerOptions {
  /** Orders each partition's copies by measured rank (copy-ranking.ts); default: plan order. */
  ranker?: CopyRanker;
}

export class QueryPlanner {
  constructor(private readonly view: ClusterView, private readonly options: QueryPlannerOptions = {}) {}

  /** Plans `query`; unknown spaces and bad options are typed errors, before any network call. */
  plan(query: Query, options: QueryOptions = {}, strategy?: ExecutionStrategy): QueryPlan {
    const cross = isCrossSpread(query);
    if (strategy === 'broadcast' && query.kind !== 'imagine' && !cross) {
      throw new InvalidArgumentError('strategy', strategy, 'only an Imagine or a Spread over several spaces spans partitions');
    }
    const named = querySpaces(query);
    const spaces = strategy === 'broadcast' || named === 'all' ? this.allSpaces() : named;
    const chosen: ExecutionStrategy = strategy ?? (named === 'all' ? 'broadcast' : query.kind === 'imagine' || cross ? 'multi' : 'single');
    if (cross && spaces.length === 0) throw new InvalidArgumentError('spaces', query.spaces, 'a Spread over several spaces needs at least one space');
    const timeoutMs = options.timeoutMs ?? (chosen === 'single' ? DEFAULT_SINGLE_PARTITION_TIMEOUT_MS : DEFAULT_MULTI_PARTITION_TIMEOUT_MS);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
      throw new InvalidArgumentError('options.timeoutMs', options.timeoutMs, `must be an integer in 1..${MAX_TIMEOUT_MS}`);
    }
    if (options.minCoverage !== undefined && !(options.minCoverage >= 0 && options.minCoverage <= 1)) {
      throw new InvalidArgumentError('options.minCoverage', options.minCoverage, 'must be in 0..1');
    }
    const seen = new Set<string>();
    spaces.forEach((s, i) => {
      if (seen.has(s)) throw new InvalidArgumentError(`spaces[${i}]`, s, 'named twice');
      seen.add(s);
    });
    const partitioned = this.view.isPartitioned();
    // Consolidation writes: it keeps the plan order, whose first copy is the leader hint.
    const ranked = query.kind !== 'consolidate' && options.preference !== 'local';
    const partitions = spaces.map((space, index) => this.partition(space, index, partitioned, ranked));
    return { strategy: chosen, partitions, timeoutMs, partitioned };
  }

  /** A broadcast reaches every space of the cluster. */
  private allSpaces(): string[] {
    return this.view.spaces();
  }

  private partition(space: string, index: number, partitioned: boolean, ranked: boolean): PlannedPartition {
    const a = this.view.assignment(space);
    if (!a) throw new SpaceNotFoundError(space);
    const self = this.view.self().id;
    const holders: { node: string; role: CopyRole }[] = [{ node: a.primary, role: 'primary' }];
    // Consolidation writes patterns through the space's Raft group: only its leader runs it (the
    // table's primary is the leader hint). Every copy is still planned: a copy that does not lead
    // refuses at once (ERR_NOT_SPACE_LEADER, retryable) and the next one is tried.
    for (const r of a.replicas) holders.push({ node: r, role: 'replica' });
    const copies: PlannedCopy[] = [];
    const skipped: string[] = [];
    for (const h of holders) {
      const m = this.view.member(h.node);
      if (!reachable(m)) {
        skipped.push(`${h.node} is ${m?.state ?? 'unknown'}`);
        continue;
      }
      copies.push({ node: h.node, address: m!.grpcAddress, role: h.role, local: h.node === self });
    }
    // A copy on this node answers with no hop; then live members before suspect ones when we
    // are cut off, since a suspect primary may be on the other side of the cut.
    const rank = (c: PlannedCopy) => (c.local ? 0 : partitioned && this.view.member(c.node)?.state === 'suspect' ? 2 : 1);
    copies.sort((x, y) => rank(x) - rank(y));
    // Then by measurement (DESIGN §8): the local copy stays first until it ranks worse than
    // another; a suspect copy across a cut stays last whatever its history.
    const measured = ranked && this.options.ranker ? this.options.ranker.order(copies) : copies;
    if (measured !== copies) measured.sort((x, y) => Math.max(1, rank(x)) - Math.max(1, rank(y)));
    return { index, partition: space, copies: measured, reason: copies.length === 0 ? `no live copy: ${skipped.join(', ')}` : '', primary: a.primary };
  }
}

/** The query model of the library: what a caller asks, and what a partition answers. */
import type { SpreadRoundInput, SpreadRoundOutput } from '../engine/spread-round.js';
import type { ImagineColumns, RecallColumns, SpreadColumns } from '../wire/columns.js';

/** A recall / imagine cue: an embedding of the space's dimension, or a text the node embeds. */
export type Cue = { embedding: Float32Array } | { text: string };

export interface RecallQuery { kind: 'recall'; space: string; cue: Cue; limit?: number; threshold?: number }
export interface SpreadQuery { kind: 'spread'; space: string; spaces?: undefined; seeds: string[]; hops?: number; decay?: number; threshold?: number }
/**
 * A Spread over several spaces (DESIGN §10): associations that cross spaces carry activation, and
 * the answer equals the single-space Spread over the union of the spaces' graphs. Seeds are
 * `SPACE/ID`; `spaces` lists the spaces, or `all` for every space of the cluster. Hops, decay and
 * threshold as a SpreadQuery. Its activations name their space.
 */
export interface CrossSpreadQuery { kind: 'spread'; spaces: string[] | 'all'; space?: undefined; seeds: string[]; hops?: number; decay?: number; threshold?: number }
export interface CompleteQuery { kind: 'complete'; space: string; values: Float32Array; known: boolean[]; neighbours?: number }
export interface ConsolidateQuery { kind: 'consolidate'; space: string; threshold?: number }
export interface ImagineQuery { kind: 'imagine'; spaces: string[]; cue: Cue; limit?: number; novelty?: number }

export type Query = RecallQuery | SpreadQuery | CrossSpreadQuery | CompleteQuery | ConsolidateQuery | ImagineQuery;
export type QueryKind = Query['kind'];

/** Whether `q` is a Spread over several spaces. */
export function isCrossSpread(q: Query): q is CrossSpreadQuery {
  return q.kind === 'spread' && q.spaces !== undefined;
}

/**
 * One round (one hop) of a Spread over several spaces, as one partition runs it
 * (src/engine/spread-round.ts): internal, between a coordinator and a copy.
 */
export interface SpreadRoundQuery extends SpreadRoundInput {
  kind: 'spread-round';
  space: string;
}

/** What one partition is asked: the single-partition form of a query, or a Spread round. */
export type PartitionQuery = Query | SpreadRoundQuery;
export type PartitionQueryKind = PartitionQuery['kind'];

/** Caller options of one query (DESIGN §3). */
/**
 * What a partition's answer must reflect: `any` (default), whatever the answering copy has
 * applied (it may lag its leader); `leader`, every write acknowledged before the query began
 * (the copy first learns its group leader's commit index, Raft's read index, and waits until it
 * has applied that far: linearizable).
 */
export type Consistency = 'any' | 'leader';

export interface QueryOptions {
  /** Default `any`; see Consistency. */
  consistency?: Consistency;
  /** Per-partition deadline, ms. Default: the planner's (500 single partition, 5,000 multi). */
  timeoutMs?: number;
  /** Default true: a missing partition weakens the answer; false makes it an error. */
  allowPartial?: boolean;
  /** Share of expected partitions that must answer, 0..1. Default 0. */
  minCoverage?: number;
  /**
   * `local` (Elasticsearch's `_local`): this node's own copy of a partition answers, whatever its
   * measured rank, and no hedge is sent; another copy only if it fails. For reading one given
   * copy (a checker, a debugging session). Default: copies ranked by measurement, hedged.
   */
  preference?: 'local';
}

export interface CompleteAnswer { embedding: Float32Array; confidence: number; sources: string[] }
export interface ConsolidateAnswer {
  memories: number;
  patternsCreated: number;
  patternsTotal: number;
  memoriesInPatterns: number;
  durationMs: number;
  /** The run reached the call's deadline before visiting every free memory: run it again for the rest. */
  stoppedEarly: boolean;
}

/** The answering copy's place in its space's Raft group, when the node runs one. */
export interface CopyState {
  /** leader, follower, candidate, preCandidate or learner. */
  raftRole: string;
  /** Entries the copy had not applied of the commit index it knew (0 on the leader). */
  behind: number;
}

/** One partition's answer, columnar where the gather merges it; `copy` says which copy answered. */
export type PartitionAnswer = (
  | { kind: 'recall'; columns: RecallColumns }
  | { kind: 'spread'; columns: SpreadColumns }
  | { kind: 'complete'; complete: CompleteAnswer }
  | { kind: 'consolidate'; consolidate: ConsolidateAnswer }
  | { kind: 'imagine'; columns: ImagineColumns }
  | { kind: 'spread-round'; round: SpreadRoundOutput }
  /** The client's answer already serialized (an engram.v1.QueryResponse without its coverage). */
  | { kind: 'response'; response: Uint8Array }
) & { copy?: CopyState };

/** The memory spaces a query reads (its partitions), in plan order; `all` for every space of the cluster. */
export function querySpaces(query: Query): string[] | 'all' {
  if (query.kind === 'imagine') return [...query.spaces];
  if (isCrossSpread(query)) return query.spaces === 'all' ? 'all' : [...query.spaces];
  return [query.space];
}

/** The single-partition form of a query, for one of its spaces. */
export function forPartition(query: Query, space: string): Query {
  return query.kind === 'imagine' ? { ...query, spaces: [space] } : query;
}

/**
 * The scatter's transport seam: how one copy of one partition is asked. The scatter sees answers
 * and typed failures only; status codes and wire codecs stay in the implementations (one over
 * the connection pool, `remote-partition-client.ts`, one in-process, `local-partition-client.ts`).
 */
import type { Context } from '@opentelemetry/api';
import type { Deadline } from './deadline.js';
import type { PartitionStatus } from './coverage.js';
import type { PlannedCopy } from './planner.js';
import type { Consistency, PartitionAnswer, PartitionQuery } from './types.js';

export interface PartitionRequest {
  /** The single-partition form of the query, or a round of a Spread over several spaces. */
  query: PartitionQuery;
  partition: string;
  consistency: Consistency;
  /**
   * Ask the copy for the client's final answer (a single-partition query through a coordinator):
   * it merges and penalises its one partition itself, and the coordinator passes the bytes on.
   * A copy may still answer columns; the coordinator then gathers as usual.
   */
  final?: { partitioned: boolean };
}

/** What the answering node said about its load (adaptive copy ranking, C3). */
export interface CopyLoad {
  /** Calls it was serving when it answered. */
  queue: number;
  /** How long it worked on this answer, ms. */
  serviceMs: number;
}

export interface PartitionReply {
  answer: PartitionAnswer;
  load?: CopyLoad;
}

/** One call's bounds: answer by `deadline`; `signal` cancels the call (on the wire, when remote). */
export interface PartitionCall {
  deadline: Deadline;
  signal: AbortSignal;
  /** The call's span context, when the query is traced: a remote client sends it on (tracing.ts). */
  trace?: Context;
  /**
   * Calls of one scatter that carry the same key and go to the same node may travel as one
   * request (coalescing-transport.ts); a call without one goes alone.
   */
  batch?: object;
}

export interface PartitionClient {
  /**
   * Asks `copy` for its answer to `request`. Rejects with a PartitionCallError, with an
   * EngramError of code ERR_INVALID_ARGUMENT when the request itself is bad (every copy would
   * refuse it), or with AbortError once `signal` fired.
   */
  call(copy: PlannedCopy, request: PartitionRequest, call: PartitionCall): Promise<PartitionReply>;
}

/** Why one copy did not answer, as the coverage block names it. */
export class PartitionCallError extends Error {
  override readonly name = 'PartitionCallError';
  constructor(
    /** The coverage status this failure gives the partition if no other copy answers. */
    readonly status: Exclude<PartitionStatus, 'ok'>,
    /** For the coverage block: never the transport's text, which names addresses. */
    readonly reason: string,
    /** Another copy may answer: try the next one. */
    readonly retry: boolean,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
  }
}

/** Sends each call to the in-process client when the copy is this node's, else to the remote one. */
export function splitPartitionClient(local: PartitionClient, remote: PartitionClient): PartitionClient {
  return { call: (copy, request, call) => (copy.local ? local : remote).call(copy, request, call) };
}

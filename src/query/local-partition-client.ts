/** The in-process PartitionClient: a partition this node holds, answered by its own runner. */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { AbortError, EngramError } from '../errors.js';
import { nowMs } from './deadline.js';
import { PartitionCallError, type PartitionClient } from './partition-client.js';
import type { Consistency, PartitionAnswer, PartitionQuery } from './types.js';

/**
 * Answers one partition on this node. `deadline` (ms since the epoch) is when the caller stops
 * waiting: work that can stop early with what it has (a consolidation) should. `consistency`
 * `leader`: answer only once the copy has applied its group leader's read index.
 */
export type LocalRunner = (query: PartitionQuery, space: string, deadline?: number, consistency?: Consistency) => Promise<PartitionAnswer>;

/** A failure of this node's own copy, classified as a remote one would be. */
export function localFailure(err: unknown): unknown {
  if (err instanceof AbortError) return err;
  if (err instanceof EngramError) {
    if (err.code === 'ERR_INVALID_ARGUMENT') return err;
    if (err.grpcStatus === GrpcStatus.UNAVAILABLE) return new PartitionCallError('unavailable', err.message, true, { cause: err });
    if (err.grpcStatus === GrpcStatus.DEADLINE_EXCEEDED) return new PartitionCallError('timeout', err.message, false, { cause: err });
    return new PartitionCallError('error', err.message, true, { cause: err });
  }
  return new PartitionCallError('error', err instanceof Error ? err.message : String(err), true, { cause: err });
}

export function localPartitionClient(run: LocalRunner): PartitionClient {
  return {
    async call(_copy, request, { deadline, signal }) {
      if (signal.aborted) throw new AbortError('cancelled before the local copy ran');
      const started = nowMs();
      try {
        const answer = await run(request.query, request.partition, deadline.wallClock(started), request.consistency);
        return { answer, load: { queue: 0, serviceMs: nowMs() - started } };
      } catch (err) {
        throw localFailure(err);
      }
    },
  };
}

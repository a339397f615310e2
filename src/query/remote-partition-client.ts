/**
 * The PartitionClient over the network: `ExecuteLocal` on another node through a
 * PartitionTransport (the connection pool in a node), its answer decoded from the wire, and
 * its failure turned into the typed failure the scatter understands.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import { AbortError, ConnectionBackoffError, EngramError, RemoteInvalidArgumentError } from '../errors.js';
import { partitionFromWire, spreadRoundToWire } from '../wire/partition-codec.js';
import { PartitionCallError, type PartitionClient } from './partition-client.js';
import { queryToWire } from './to-wire.js';
import { traceHeaders } from './tracing.js';

/** How a remote copy is asked: the internal `ExecuteLocal` call, cancellable through `signal`. */
export interface PartitionTransport {
  /**
   * `deadline` is ms since the epoch, as grpc-js takes it. `headers`, when given, are extra call
   * metadata to send (the W3C trace context); a transport that cannot send them may drop them.
   */
  executeLocal(address: string, request: unknown, options: { deadline: number; signal: AbortSignal; headers?: Readonly<Record<string, string>>; batch?: object }): Promise<unknown>;
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

/** A failed call as the scatter takes it: a bad request (fatal), an abort, or a PartitionCallError. */
export function remoteFailure(err: unknown, node: string): unknown {
  if (err instanceof AbortError) return err;
  if (err instanceof EngramError && err.code === 'ERR_INVALID_ARGUMENT') return err;
  const e = err as { code?: unknown; details?: unknown };
  if (!(err instanceof EngramError) && e.code === grpcStatus.INVALID_ARGUMENT) return new RemoteInvalidArgumentError(node, String(e.details ?? (err as Error).message));
  const code = err instanceof EngramError ? err.grpcStatus : e.code;
  const reason = failureReason(err);
  if (code === grpcStatus.UNAVAILABLE) return new PartitionCallError('unavailable', reason, true, { cause: err });
  // The copies share one deadline: a copy that ran out of it leaves none for the next.
  if (code === grpcStatus.DEADLINE_EXCEEDED) return new PartitionCallError('timeout', reason, false, { cause: err });
  return new PartitionCallError('error', reason, true, { cause: err });
}

export function remotePartitionClient(transport: PartitionTransport): PartitionClient {
  return {
    async call(copy, request, { deadline, signal, trace, batch }) {
      const q = request.query;
      const msg = {
        ...(q.kind === 'spread-round' ? { spreadRound: spreadRoundToWire(q) } : { query: queryToWire(q) }),
        partition: request.partition,
        ...(request.consistency === 'leader' ? { consistency: 'CONSISTENCY_LEADER' } : {}),
        ...(request.final ? { final: true, partitioned: request.final.partitioned } : {}),
      };
      const headers = trace ? traceHeaders(trace) : undefined;
      let res: unknown;
      try {
        res = await transport.executeLocal(copy.address, msg, { deadline: deadline.wallClock(), signal, ...(headers ? { headers } : {}), ...(batch ? { batch } : {}) });
      } catch (err) {
        throw remoteFailure(err, copy.node);
      }
      const wire = res as Parameters<typeof partitionFromWire>[0] & { queue?: number; serviceUs?: number };
      let answer;
      try {
        answer = partitionFromWire(wire);
      } catch (err) {
        throw new PartitionCallError('error', `malformed answer: ${(err as Error).message}`, true, { cause: err });
      }
      return { answer, ...(typeof wire.queue === 'number' ? { load: { queue: wire.queue, serviceMs: (wire.serviceUs ?? 0) / 1000 } } : {}) };
    },
  };
}

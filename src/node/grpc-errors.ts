/** Maps the package's typed errors onto gRPC status codes, keeping the message and code. */
import * as grpc from '@grpc/grpc-js';
import { EngramError } from '../errors.js';
import { coverageToWire, type Coverage } from '../query/coverage.js';

const STATUS_BY_CODE: Record<string, grpc.status> = {
  ERR_INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  ERR_SPACE_NOT_FOUND: grpc.status.NOT_FOUND,
  ERR_SPACE_CONFLICT: grpc.status.ALREADY_EXISTS,
  ERR_ALL_PARTITIONS_FAILED: grpc.status.UNAVAILABLE,
  ERR_INSUFFICIENT_COVERAGE: grpc.status.UNAVAILABLE,
  ERR_ABORTED: grpc.status.CANCELLED,
  ERR_NOT_IN_CLUSTER: grpc.status.FAILED_PRECONDITION,
  ERR_FAULTS_DISABLED: grpc.status.PERMISSION_DENIED,
  ERR_UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  ERR_PRIMARY_UNAVAILABLE: grpc.status.UNAVAILABLE,
  ERR_REPLICATION_GAP: grpc.status.FAILED_PRECONDITION,
  ERR_REPLICATION_TIMEOUT: grpc.status.DEADLINE_EXCEEDED,
  ERR_REPLICA_DIVERGED: grpc.status.DATA_LOSS,
  ERR_ENGINE_CLOSED: grpc.status.UNAVAILABLE,
};

/** A gRPC error object for `callback(err)`; the engram code travels in metadata `engram-code`. */
export function toGrpcError(err: unknown): grpc.ServiceError {
  // An answer of another node (a forwarded write): pass its status, message and metadata through.
  if (isServiceError(err)) return err;
  const metadata = new grpc.Metadata();
  if (err instanceof EngramError) {
    metadata.set('engram-code', err.code);
    const coverage = (err as { coverage?: Coverage }).coverage;
    // The wire form, which the client's coverageFromWire reads back.
    if (coverage !== undefined) metadata.set('engram-coverage-bin', Buffer.from(JSON.stringify(coverageToWire(coverage))));
    return Object.assign(new Error(err.message), {
      code: STATUS_BY_CODE[err.code] ?? grpc.status.INTERNAL,
      details: err.message,
      metadata,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return Object.assign(new Error(message), { code: grpc.status.INTERNAL, details: `internal error: ${message}`, metadata });
}

/** Whether an error is a fault of the node (to be logged) rather than of the request. */
export function isInternal(err: unknown): boolean {
  if (isServiceError(err)) return false;
  return !(err instanceof EngramError) || STATUS_BY_CODE[err.code] === undefined;
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && (err as { metadata?: unknown }).metadata instanceof grpc.Metadata;
}

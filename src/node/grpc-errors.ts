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

/**
 * Longest status message sent, characters. Messages travel in HTTP/2 trailers: one that quotes a
 * huge caller input past the peer's header limit leaves the call (and its connection) hanging.
 */
export const MAX_STATUS_MESSAGE_CHARS = 1_024;
/** Largest coverage block sent in error metadata, bytes (grpc-js accepts 8 KiB of metadata by default). */
export const MAX_COVERAGE_METADATA_BYTES = 6_000;

function clip(message: string): string {
  return message.length > MAX_STATUS_MESSAGE_CHARS ? `${message.slice(0, MAX_STATUS_MESSAGE_CHARS - 1)}…` : message;
}

/** The coverage for metadata: reasons shortened, and nothing at all rather than an oversized block. */
function coverageMetadata(coverage: Coverage): Buffer | undefined {
  const wire = coverageToWire(coverage);
  let bytes = Buffer.from(JSON.stringify(wire));
  if (bytes.length > MAX_COVERAGE_METADATA_BYTES) {
    bytes = Buffer.from(JSON.stringify({ ...wire, partitions: wire.partitions.map((p) => ({ ...p, reason: p.reason.slice(0, 120) })) }));
  }
  return bytes.length > MAX_COVERAGE_METADATA_BYTES ? undefined : bytes;
}

/** A gRPC error object for `callback(err)`; the engram code travels in metadata `engram-code`. */
export function toGrpcError(err: unknown): grpc.ServiceError {
  // An answer of another node (a forwarded write): pass its status, message and metadata through.
  if (isServiceError(err)) return err;
  const metadata = new grpc.Metadata();
  if (err instanceof EngramError) {
    metadata.set('engram-code', err.code);
    const coverage = (err as { coverage?: Coverage }).coverage;
    // The wire form, which the client's coverageFromWire reads back.
    const block = coverage !== undefined ? coverageMetadata(coverage) : undefined;
    if (block) metadata.set('engram-coverage-bin', block);
    return Object.assign(new Error(clip(err.message)), {
      code: STATUS_BY_CODE[err.code] ?? grpc.status.INTERNAL,
      details: clip(err.message),
      metadata,
    });
  }
  const message = clip(err instanceof Error ? err.message : String(err));
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

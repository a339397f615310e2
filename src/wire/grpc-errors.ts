/**
 * The one mapping between the package's typed errors and gRPC, both ways. A node answers a failed
 * call with the status its error's class declares (src/errors.ts) and up to three metadata
 * entries, documented in proto/engram/v1/engram.proto:
 * - `engram-code`: the stable code, from which the caller rebuilds the same class;
 * - `engram-coverage-bin`: the coverage of a query error, a serialized `engram.v1.Coverage`;
 * - `engram-fields-bin`: the class's typed fields (`wireFields`), a UTF-8 JSON object.
 * Nothing else of a failure leaves the node: transport text of its own calls to other nodes
 * (addresses, ECONNREFUSED) is logged here and replaced by a typed error.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { EngramError, EngramRpcError, errorClassFor, rebuildError, wireFieldsOf } from '../errors.js';
import { coverageFromWire, coverageToWire, type Coverage } from '../query/coverage.js';
import type { CoverageMsg } from './messages.js';
import { PROTO_DIR } from './proto.js';

export const CODE_METADATA = 'engram-code';
export const COVERAGE_METADATA = 'engram-coverage-bin';
export const FIELDS_METADATA = 'engram-fields-bin';

/**
 * Longest status message sent, characters. Messages travel in HTTP/2 trailers: one that quotes a
 * huge caller input past the peer's header limit leaves the call (and its connection) hanging.
 */
export const MAX_STATUS_MESSAGE_CHARS = 1_024;
/**
 * Largest coverage block sent, bytes before base64 (4 KiB becomes 5.5 KiB on the wire: with a
 * clipped message and the fields, the trailers stay under 8 KiB).
 */
export const MAX_COVERAGE_METADATA_BYTES = 4_096;
/** Largest typed-fields block sent, bytes; a field longer than a quarter of it stays behind. */
export const MAX_FIELDS_METADATA_BYTES = 1_024;
/** Longest partition reason kept when the full coverage block does not fit, characters. */
const SHORT_REASON_CHARS = 120;

/** Statuses that mean a fault of the node (logged there), not of the request. */
const INTERNAL_STATUSES: ReadonlySet<grpc.status> = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DATA_LOSS]);

function clip(message: string): string {
  return message.length > MAX_STATUS_MESSAGE_CHARS ? `${message.slice(0, MAX_STATUS_MESSAGE_CHARS - 1)}…` : message;
}

let coverageType: protobuf.Type | undefined;

/** engram.v1.Coverage, the message responses already carry (parsed once per process). */
function coverageMessage(): protobuf.Type {
  coverageType ??= protobuf.loadSync(join(PROTO_DIR, 'engram', 'v1', 'types.proto')).lookupType('engram.v1.Coverage');
  return coverageType;
}

/** The coverage as a serialized engram.v1.Coverage. */
export function encodeCoverage(coverage: Coverage): Buffer {
  const type = coverageMessage();
  const bytes = type.encode(type.fromObject(coverageToWire(coverage))).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Reads a coverage block: a serialized engram.v1.Coverage, or the JSON object nodes sent before
 * (a serialized Coverage never starts with `{`, which would be field 15 as a group). Undefined
 * for a block that is neither: a bad block must not turn the error into another one.
 */
export function decodeCoverage(block: Buffer): Coverage | undefined {
  try {
    if (block[0] === 0x7b) return coverageFromWire(JSON.parse(block.toString('utf8')) as CoverageMsg);
    const type = coverageMessage();
    const msg = type.toObject(type.decode(block), { enums: String, longs: Number, defaults: true, arrays: true }) as CoverageMsg;
    return coverageFromWire(msg);
  } catch {
    return undefined;
  }
}

/** The coverage for metadata: reasons shortened, and nothing at all rather than an oversized block. */
function coverageMetadata(coverage: Coverage): Buffer | undefined {
  let bytes = encodeCoverage(coverage);
  if (bytes.length > MAX_COVERAGE_METADATA_BYTES) {
    bytes = encodeCoverage({ ...coverage, partitions: coverage.partitions.map((p) => ({ ...p, reason: p.reason.slice(0, SHORT_REASON_CHARS) })) });
  }
  return bytes.length > MAX_COVERAGE_METADATA_BYTES ? undefined : bytes;
}

function fieldsMetadata(err: EngramError): Buffer | undefined {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(wireFieldsOf(err))) {
    // A field quoting a huge input (InvalidArgumentError.value) stays behind; the message describes it.
    if (JSON.stringify(value).length <= MAX_FIELDS_METADATA_BYTES / 4) fields[name] = value;
  }
  if (Object.keys(fields).length === 0) return undefined;
  const bytes = Buffer.from(JSON.stringify(fields));
  return bytes.length > MAX_FIELDS_METADATA_BYTES ? undefined : bytes;
}

function serviceError(code: grpc.status, details: string, metadata: grpc.Metadata, message = details): grpc.ServiceError {
  return Object.assign(new Error(message), { code, details, metadata });
}

function typedToGrpc(err: EngramError): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  metadata.set(CODE_METADATA, err.code);
  const coverage = (err as { coverage?: Coverage }).coverage;
  const block = coverage !== undefined ? coverageMetadata(coverage) : undefined;
  if (block) metadata.set(COVERAGE_METADATA, block);
  const fields = fieldsMetadata(err);
  if (fields) metadata.set(FIELDS_METADATA, fields);
  return serviceError(err.grpcStatus, clip(err.message), metadata);
}

/**
 * A gRPC error object for `callback(err)`. A typed error travels as its class declares. A failed
 * call to another node that nobody translated passes on only that node's typed answer; its
 * transport text stays in `message` (which the node logs) and never reaches `details`.
 */
export function toGrpcError(err: unknown): grpc.ServiceError {
  if (err instanceof EngramError) return typedToGrpc(err);
  if (isServiceError(err)) {
    const typed = typedErrorOf(err);
    if (typed) return typedToGrpc(typed);
    const name = grpc.status[err.code] ?? String(err.code);
    return serviceError(grpc.status.INTERNAL, `internal error: a call to another node failed (${name})`, new grpc.Metadata(), clip(`a call to another node failed: ${err.message}`));
  }
  const message = clip(err instanceof Error ? err.message : String(err));
  return serviceError(grpc.status.INTERNAL, `internal error: ${message}`, new grpc.Metadata(), message);
}

/** Whether an error is a fault of the node (to be logged) rather than of the request. */
export function isInternal(err: unknown): boolean {
  if (err instanceof EngramError) return INTERNAL_STATUSES.has(err.grpcStatus);
  if (isServiceError(err)) return typedErrorOf(err) === undefined;
  return true;
}

function metadataString(err: grpc.ServiceError, key: string): string | undefined {
  const v = err.metadata?.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}

function metadataBuffer(err: grpc.ServiceError, key: string): Buffer | undefined {
  const v = err.metadata?.get(key)[0];
  return Buffer.isBuffer(v) ? v : undefined;
}

function receivedFields(err: grpc.ServiceError): Record<string, unknown> | undefined {
  const block = metadataBuffer(err, FIELDS_METADATA);
  if (!block) return undefined;
  try {
    const v: unknown = JSON.parse(block.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The coverage a failed call carried, if any. */
export function receivedCoverage(err: grpc.ServiceError): Coverage | undefined {
  const block = metadataBuffer(err, COVERAGE_METADATA);
  return block ? decodeCoverage(block) : undefined;
}

/**
 * A failed call's error rebuilt as the class its `engram-code` names (same message, typed fields,
 * coverage; the ServiceError as `cause`); undefined when it names none this version knows.
 */
export function typedErrorOf(err: grpc.ServiceError): EngramError | undefined {
  const code = metadataString(err, CODE_METADATA);
  const cls = code !== undefined ? errorClassFor(code) : undefined;
  if (!cls) return undefined;
  const fields = receivedFields(err);
  const coverage = receivedCoverage(err);
  return rebuildError(cls, err.details, { ...(fields ? { fields } : {}), ...(coverage ? { coverage } : {}), cause: err });
}

/** A failed call's error: its typed class, or an EngramRpcError with the status and message the node sent. */
export function fromGrpcError(err: grpc.ServiceError): EngramError {
  const typed = typedErrorOf(err);
  if (typed) return typed;
  const engramCode = metadataString(err, CODE_METADATA);
  const coverage = receivedCoverage(err);
  const name = grpc.status[err.code] ?? String(err.code);
  return new EngramRpcError(err.code, `${name}: ${err.details || err.message}`, { ...(engramCode ? { engramCode } : {}), ...(coverage ? { coverage } : {}), cause: err });
}

/** Whether `err` is a grpc-js call failure (a status with metadata), e.g. of a call to another node. */
export function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && (err as { metadata?: unknown }).metadata instanceof grpc.Metadata;
}

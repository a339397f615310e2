/**
 * The partition side of the internal service, for an Engram node that brings its own engine and
 * membership: `ExecuteLocal` answered by the node's own runner, every call checked against the
 * cluster key (and, with TLS, the cluster CA) exactly as `engram-node` checks it, so such a node
 * and reference nodes can ask each other for partitions. Every other internal method answers
 * UNIMPLEMENTED (grpc-js does that for handlers left out).
 */
import * as grpc from '@grpc/grpc-js';
import { AbortError, UnauthenticatedError } from '../errors.js';
import { checkClusterKey } from './internal-transport.js';
import { toGrpcError } from '../wire/grpc-errors.js';
import { queryFromWire } from '../query/from-wire.js';
import type { LocalRunner } from '../query/local-partition-client.js';
import { forPartition, type PartitionQuery } from '../query/types.js';
import { ReplayGuard, requireNodeCertificate, verifyInternalCall } from '../security/internal-auth.js';
import { partitionToWire, spreadRoundFromWire, type SpreadRoundMsg } from '../wire/partition-codec.js';
import type { QueryMsg } from '../wire/messages.js';
import { protos, receivedDigest } from '../wire/proto.js';

type ExecuteLocalMsg = { query: QueryMsg | null; partition: string; spreadRound?: SpreadRoundMsg | null };

export interface PartitionServiceOptions {
  /** Answers one partition from this node's engine (typed errors become gRPC statuses). */
  local: LocalRunner;
  /** The cluster's shared key: every call must carry its HMAC tag (see `internalCallMetadata`). */
  clusterKey: string;
  /** The cluster's id, which every caller's tag must name (the same as the callers' `internalPool`). Default ''. */
  clusterId?: string;
  /**
   * Refuse calls whose connection presented no client certificate signed by the cluster CA. Set it
   * when the server runs with TLS credentials (`serverCredentials`). Default false.
   */
  requireClientCertificate?: boolean;
  /** Told about every refused call, for the node's logs and metrics. */
  onRefused?: (method: string, error: UnauthenticatedError, peer: string) => void;
}

/** The `EngramInternal` implementation that answers `ExecuteLocal` from `options.local`. */
export function partitionServiceImplementation(options: PartitionServiceOptions): grpc.UntypedServiceImplementation {
  checkClusterKey(options.clusterKey);
  const replay = new ReplayGuard();
  const ExecuteLocal = (call: grpc.ServerUnaryCall<ExecuteLocalMsg, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    answer(options, replay, call).then(
      (response) => callback(null, response),
      (err: unknown) => callback(toGrpcError(err), null),
    );
  };
  return { ExecuteLocal };
}

/** Registers the partition service on `server` (bind it with `serverCredentials(tls)`). */
export function addPartitionService(server: grpc.Server, options: PartitionServiceOptions): void {
  server.addService(protos().internalService, partitionServiceImplementation(options));
}

async function answer(options: PartitionServiceOptions, replay: ReplayGuard, call: grpc.ServerUnaryCall<ExecuteLocalMsg, unknown>): Promise<unknown> {
  try {
    if (options.requireClientCertificate) requireNodeCertificate(call, 'ExecuteLocal');
    verifyInternalCall(options.clusterKey, call.metadata, 'ExecuteLocal', { clusterId: options.clusterId ?? '', digest: receivedDigest(call.request), replay });
  } catch (err) {
    if (err instanceof UnauthenticatedError) options.onRefused?.('ExecuteLocal', err, call.getPeer());
    throw err;
  }
  const { partition } = call.request;
  const round = call.request.spreadRound;
  const query: PartitionQuery = round ? spreadRoundFromWire(partition, round) : forPartition(queryFromWire(call.request.query), partition);
  const answered = await options.local(query, partition);
  if (call.cancelled) throw new AbortError('the caller cancelled the call');
  return partitionToWire(partition, answered);
}

/**
 * The typed statuses a Raft stream ends with. They live here, not in src/errors.ts, until the
 * transport is wired into the node (the metadata work owns errors.ts meanwhile): they travel with
 * their `engram-code` like every EngramError (toGrpcError reads the class), but a caller rebuilds
 * them as EngramRpcError until they join errors.ts's class table.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { EngramError } from '../errors.js';

/** Why a receiver refused a Raft stream after authenticating it. */
export type RaftPeerRefusal = 'cluster_mismatch' | 'node_mismatch';

/**
 * A batch from a node of another cluster (same key, other cluster id), or one whose sender is
 * not the node its tag was made for. Nothing of it was stepped.
 */
export class RaftPeerRefusedError extends EngramError {
  static override readonly code = 'ERR_RAFT_PEER_REFUSED';
  static override readonly grpcStatus = GrpcStatus.PERMISSION_DENIED;
  // The receiver's own cluster id stays on the receiver: a stranger learns only that it was refused.
  static override readonly wireFields = ['reason'];
  readonly reason: RaftPeerRefusal;
  constructor(reason: RaftPeerRefusal, message: string) {
    super(RaftPeerRefusedError.code, message);
    this.reason = reason;
  }
}

/** The receiving transport is closed or not yet attached to its RaftHost; the sender retries later. */
export class RaftTransportClosedError extends EngramError {
  static override readonly code = 'ERR_RAFT_TRANSPORT_CLOSED';
  static override readonly grpcStatus = GrpcStatus.UNAVAILABLE;
  static override readonly retryable = true;
  constructor(why: string) {
    super(RaftTransportClosedError.code, `Raft transport: ${why}`);
  }
}

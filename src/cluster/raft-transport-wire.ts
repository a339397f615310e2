/**
 * Shapes shared by the two sides of the Raft transport: the proto messages of
 * `EngramInternal.Raft` (proto/engram/v1/internal.proto, as proto-loader hands them out) and the
 * narrow view of the RaftHost each side uses.
 */
import type { RaftError } from '../raft/raft-errors.js';

/** The gRPC method (and the name its engram-auth tag is made for). */
export const RAFT_METHOD = 'Raft';

export interface RaftEnvelopeMsg {
  group: string;
  data: Uint8Array;
}

export interface RaftBatchMsg {
  clusterId: string;
  fromNode: string;
  /** 1 for a call's first batch, then +1 per batch. */
  seq: number;
  messages: RaftEnvelopeMsg[];
}

/** Every batch of the call up to `seq` has been stepped. */
export interface RaftAckMsg {
  seq: number;
}

/** One message waiting for its peer. */
export interface RaftOutbound {
  group: string;
  /** Raft id of the receiving peer in `group` (what the reports name). */
  to: number;
  data: Uint8Array;
  snapshot: boolean;
}

/** What the transport needs of the local RaftHost: stepping in, reporting back. */
export interface RaftTransportHost {
  /** Returns the refusals that are part of normal operation; throws on others. */
  step(group: string, data: Uint8Array): RaftError | null;
  reportUnreachable(group: string, peer: number): void;
  reportSnapshot(group: string, peer: number, delivered: boolean): void;
}

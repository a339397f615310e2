/**
 * Counters of the Raft transport, kept as plain numbers so the transport needs no prom-client:
 * the node exposes them on its registry (a collect() that reads `stats()`).
 */
import type { AuthFailureReason } from '../errors.js';
import type { RaftPeerRefusal } from '../errors.js';

/** Why a received stream was ended by this node before stepping anything more of it. */
export type RaftStreamRefusal = AuthFailureReason | RaftPeerRefusal | 'closed';

export interface RaftTransportStats {
  // ---- sending ----
  /** Streams opened to peers (the first per peer, then one per reopen after a break). */
  streamsOpened: number;
  /** Streams that ended: a peer dead or restarted, a dial that failed, a refusal. */
  streamsBroken: number;
  /** Batches written to a stream, and their messages. */
  batchesSent: number;
  messagesSent: number;
  /** Batches the receiver acknowledged (stepped). */
  batchesAcked: number;
  /** Messages dropped from a full peer queue, oldest non-snapshot first (Raft retransmits). */
  messagesDropped: number;
  /** Messages unacknowledged on a broken stream, snapshots failed while backing off, messages no address was known for or too large to send. */
  messagesUnsent: number;
  /** reportUnreachable calls made (one per group and peer per event, not per message). */
  unreachableReports: number;
  snapshotsDelivered: number;
  snapshotsFailed: number;
  /** Peer addresses with a queue now. */
  peers: number;
  /** Messages waiting in the queues now. */
  queued: number;
  // ---- receiving ----
  /** Streams from peers open now. */
  streamsIn: number;
  /** Streams that passed authentication. */
  streamsAccepted: number;
  batchesReceived: number;
  messagesReceived: number;
  /** Messages the local groups refused as part of normal operation (unknown group, stale or misdirected message). */
  messagesStepRefused: number;
  /** Messages whose step failed otherwise (undecodable, fenced-off group). */
  messagesStepFailed: number;
  /** Streams ended by this node, by reason. */
  refused: Record<RaftStreamRefusal, number>;
}

export type RaftTransportCounters = Omit<RaftTransportStats, 'peers' | 'queued' | 'streamsIn'>;

export function newRaftTransportCounters(): RaftTransportCounters {
  return {
    streamsOpened: 0,
    streamsBroken: 0,
    batchesSent: 0,
    messagesSent: 0,
    batchesAcked: 0,
    messagesDropped: 0,
    messagesUnsent: 0,
    unreachableReports: 0,
    snapshotsDelivered: 0,
    snapshotsFailed: 0,
    streamsAccepted: 0,
    batchesReceived: 0,
    messagesReceived: 0,
    messagesStepRefused: 0,
    messagesStepFailed: 0,
    refused: { missing_tag: 0, bad_tag: 0, stale_tag: 0, replayed_tag: 0, other_cluster: 0, no_client_certificate: 0, cluster_mismatch: 0, node_mismatch: 0, closed: 0 },
  };
}

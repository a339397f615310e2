/**
 * Options of the Raft transport, their defaults, and the validating parse that fills them in.
 */
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from '../errors.js';
import { DEFAULT_INITIAL_BACKOFF_MS, DEFAULT_MAX_BACKOFF_MS } from '../pool/pool-options.js';
import { silentLogger, type Logger } from '../util/logger.js';
import type { ReplayGuard } from '../security/internal-auth.js';

/** Messages waiting for one peer before the oldest non-snapshot ones are dropped. */
export const DEFAULT_MAX_QUEUED_MESSAGES = 4_096;
/** Bytes waiting for one peer before the oldest non-snapshot messages are dropped (16 MiB). */
export const DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/**
 * Largest batch, bytes (4 MiB): a round that produced more for one peer goes as several batches,
 * well under the 16 MiB message limit every server of ours enforces (src/wire/proto.ts).
 */
export const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024;
/**
 * Batches written to a peer and not yet acknowledged before the next waits. A few, so a round's
 * batch need not wait a round trip for the previous one; bounded, so a peer that stops reading
 * holds at most this many batches in the HTTP/2 buffers and the rest waits in the capped queue.
 */
export const DEFAULT_MAX_UNACKED_BATCHES = 4;
// A broken stream is reopened on the pool's dial backoff (first wait, doubling, cap): one
// reconnect policy for every node-to-node connection.
export { DEFAULT_INITIAL_BACKOFF_MS, DEFAULT_MAX_BACKOFF_MS };
/**
 * HTTP/2 keepalive ping interval of each peer connection, ms. A peer cut off without a reset
 * (a pulled cable, a dropped route) is otherwise noticed only when TCP gives up, minutes later.
 */
export const DEFAULT_KEEPALIVE_TIME_MS = 10_000;
/** How long a keepalive ping may go unanswered before the connection is dropped, ms. */
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 5_000;
/** A peer address nothing was sent to for this long has its stream closed and is forgotten, ms. */
export const DEFAULT_IDLE_PEER_MS = 60_000;

/** The node this transport speaks for, and who it speaks to. All required. */
export interface RaftTransportIdentity {
  /** This cluster's id: sent with every batch, and every received batch must carry it. */
  clusterId: string;
  /** This node's id (the one its engram-auth tag names). */
  nodeId: string;
  /** The cluster key the internal-call tags are made with (src/security/internal-auth.ts). */
  clusterKey: string;
  /**
   * The gRPC address (`host:port`) of raft id `raftId` in `group`, or undefined when unknown
   * (the message is then reported unreachable). The metadata group provides it.
   */
  resolve(group: string, raftId: number): string | undefined;
}

export interface RaftTransportOptions extends RaftTransportIdentity {
  /** Credentials of the channels to peers (TLS with this node's certificate); default plaintext. */
  credentials?: grpc.ChannelCredentials;
  /** Refuse streams whose connection presented no CA-signed certificate: set when the server runs TLS. Default false. */
  requireClientCertificate?: boolean;
  /** Messages queued per peer before the oldest non-snapshot ones are dropped; default 4,096. */
  maxQueuedMessages?: number;
  /** Bytes queued per peer before the oldest non-snapshot messages are dropped; default 16 MiB. */
  maxQueuedBytes?: number;
  /** Largest batch, bytes; default 4 MiB (one message always goes, up to the 16 MiB message limit). */
  maxBatchBytes?: number;
  /** Batches out to one peer before the next waits for an acknowledgement; default 4. */
  maxUnackedBatches?: number;
  /** First wait before a broken stream is reopened, ms; default 100; 0 reopens at the next flush. */
  initialBackoffMs?: number;
  /** Backoff ceiling, ms; default 5,000. */
  maxBackoffMs?: number;
  /** Keepalive ping interval, ms; default 10,000. */
  keepaliveTimeMs?: number;
  /** Keepalive ping timeout, ms; default 5,000. */
  keepaliveTimeoutMs?: number;
  /** A peer address unused this long is closed and forgotten, ms; default 60,000. */
  idlePeerMs?: number;
  /**
   * Called after each received batch has been stepped: the owner runs `processReadies()` and
   * then `flush()`, so replies leave without waiting for the next tick. Default none.
   */
  onReceived?: () => void;
  /** Nonces of stream-opening tags seen (share the node's); default one of its own. */
  replay?: ReplayGuard;
  /** Refusals, broken streams and recoveries; default silent. */
  logger?: Logger;
  /** Monotonic clock for backoff and idleness, ms; default performance.now. */
  now?: () => number;
}

export interface ParsedRaftTransportOptions extends RaftTransportIdentity {
  credentials: grpc.ChannelCredentials;
  requireClientCertificate: boolean;
  maxQueuedMessages: number;
  maxQueuedBytes: number;
  maxBatchBytes: number;
  maxUnackedBatches: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  idlePeerMs: number;
  onReceived: (() => void) | undefined;
  replay: ReplayGuard | undefined;
  logger: Logger;
  now: () => number;
}

/** Validates `options` (without changing it) and fills in the defaults; an explicit 0 stays 0 where 0 means something. */
export function parseRaftTransportOptions(options: RaftTransportOptions): ParsedRaftTransportOptions {
  const parsed: ParsedRaftTransportOptions = {
    clusterId: options.clusterId,
    nodeId: options.nodeId,
    clusterKey: options.clusterKey,
    resolve: options.resolve,
    credentials: options.credentials ?? grpc.credentials.createInsecure(),
    requireClientCertificate: options.requireClientCertificate ?? false,
    maxQueuedMessages: options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES,
    maxQueuedBytes: options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
    maxBatchBytes: options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
    maxUnackedBatches: options.maxUnackedBatches ?? DEFAULT_MAX_UNACKED_BATCHES,
    initialBackoffMs: options.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS,
    maxBackoffMs: options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
    keepaliveTimeMs: options.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
    idlePeerMs: options.idlePeerMs ?? DEFAULT_IDLE_PEER_MS,
    onReceived: options.onReceived,
    replay: options.replay,
    logger: options.logger ?? silentLogger,
    now: options.now ?? (() => performance.now()),
  };
  for (const key of ['clusterId', 'nodeId', 'clusterKey'] as const) {
    if (typeof parsed[key] !== 'string' || parsed[key].length === 0) throw new ConfigError(key, `must be a non-empty string (got ${JSON.stringify(parsed[key])})`);
  }
  if (typeof parsed.resolve !== 'function') throw new ConfigError('resolve', 'must be a function (group, raftId) => address | undefined');
  // A queue of 0 messages could hold nothing, not even the snapshot being sent; a window of 0 would send nothing.
  for (const key of ['maxQueuedMessages', 'maxQueuedBytes', 'maxBatchBytes', 'maxUnackedBatches'] as const) {
    if (!Number.isInteger(parsed[key]) || parsed[key] < 1) throw new ConfigError(key, `must be an integer >= 1 (got ${parsed[key]})`);
  }
  for (const key of ['initialBackoffMs', 'maxBackoffMs', 'keepaliveTimeoutMs', 'idlePeerMs'] as const) {
    if (!Number.isFinite(parsed[key]) || parsed[key] < 0) throw new ConfigError(key, `must be a finite number >= 0 (got ${parsed[key]})`);
  }
  // grpc-js reads keepalive_time_ms <= 0 as "no keepalive": a silently dead peer would hold its stream for minutes.
  if (!Number.isFinite(parsed.keepaliveTimeMs) || parsed.keepaliveTimeMs < 1) {
    throw new ConfigError('keepaliveTimeMs', `must be a finite number >= 1 (got ${parsed.keepaliveTimeMs})`);
  }
  if (parsed.maxBackoffMs < parsed.initialBackoffMs) {
    throw new ConfigError('maxBackoffMs', `must be >= initialBackoffMs (${parsed.initialBackoffMs}), got ${parsed.maxBackoffMs}`);
  }
  return parsed;
}

/**
 * Who may call the node-to-node (EngramInternal) service.
 *
 * Two independent checks, both on every internal call:
 * - the cluster key: the caller sends its node id, the cluster id it belongs to, a timestamp and
 *   a random nonce, and `engram-auth` = hex(HMAC-SHA256(clusterKey, "engram-internal-v2" ‖ node
 *   id ‖ cluster id ‖ method ‖ timestamp ‖ nonce ‖ SHA-256 of the request's bytes)), fields
 *   joined by newlines. The receiver computes the digest from the bytes it received, so a tag
 *   covers exactly one request of one method, from one node of one cluster. A tag older or newer
 *   than the replay window (default 30 s: node clocks must agree that closely), or one whose
 *   nonce the receiver has seen within the window, is refused: a captured call cannot be sent
 *   again, nor its tag put on another request, even on a plaintext network. Streams (Raft) sign
 *   the empty body: the tag covers the stream's opening, not its batches (each carries the
 *   cluster id, unsigned), so an on-path attacker of a plaintext network could inject batches.
 * - with TLS, the connection must have presented a client certificate signed by the cluster CA.
 *
 * TLS is still what gives confidentiality; the tag keeps out a process that merely reaches the
 * port, a node of another cluster that shares the key, and replays.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { UnauthenticatedError } from '../errors.js';

/** Why an internal call was refused (the class lives with every public error in src/errors.ts). */
export type { AuthFailureReason } from '../errors.js';

/** Metadata key naming the calling node. */
export const NODE_ID_HEADER = 'engram-node-id';
/** Metadata key of the HMAC tag. */
export const AUTH_TAG_HEADER = 'engram-auth';
/** Metadata key of the caller's cluster id (empty for a node that has not joined one yet). */
export const CLUSTER_ID_HEADER = 'engram-cluster-id';
/** Metadata key of the caller's clock when it signed, ms since the epoch. */
export const TIMESTAMP_HEADER = 'engram-ts';
/** Metadata key of the call's random nonce (hex). */
export const NONCE_HEADER = 'engram-nonce';
/** How far a tag's timestamp may be from the receiver's clock, ms; also how long nonces are kept. */
export const DEFAULT_REPLAY_WINDOW_MS = 30_000;

const VERSION = 'engram-internal-v2';
/** What a stream's tag covers in place of a request body: the SHA-256 of nothing. */
export const STREAM_DIGEST: Buffer = createHash('sha256').digest();
const EMPTY_DIGEST = STREAM_DIGEST;

/** SHA-256 of a request's serialized bytes (what a tag covers). */
export function requestDigest(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

export interface TagFields {
  nodeId: string;
  clusterId: string;
  method: string;
  timestampMs: number;
  nonce: string;
  /** SHA-256 of the request bytes; the empty body's for a stream. */
  digest: Uint8Array;
}

/** The tag of one call, hex. */
export function internalCallTag(clusterKey: string, f: TagFields): string {
  return createHmac('sha256', clusterKey)
    .update(`${VERSION}\n${f.nodeId}\n${f.clusterId}\n${f.method}\n${f.timestampMs}\n${f.nonce}\n`)
    .update(f.digest)
    .digest('hex');
}

/** Signs calls of one node: `(method, requestBytes?) → metadata` (no bytes: a stream). */
export type CallSigner = (method: string, requestBytes?: Uint8Array) => grpc.Metadata;

/**
 * Metadata for node-to-node calls: what the pool, the Raft transport and the peer clients attach
 * to every call. `clusterId` may be a getter: a joining node learns it after its pool exists.
 */
export function internalCallMetadata(clusterKey: string, nodeId: string, clusterId: string | (() => string) = ''): CallSigner {
  const cluster = typeof clusterId === 'function' ? clusterId : () => clusterId;
  return (method, requestBytes) => {
    const f: TagFields = {
      nodeId,
      clusterId: cluster(),
      method,
      timestampMs: Date.now(),
      nonce: randomBytes(12).toString('hex'),
      digest: requestBytes ? requestDigest(requestBytes) : EMPTY_DIGEST,
    };
    const md = new grpc.Metadata();
    md.set(NODE_ID_HEADER, f.nodeId);
    md.set(CLUSTER_ID_HEADER, f.clusterId);
    md.set(TIMESTAMP_HEADER, String(f.timestampMs));
    md.set(NONCE_HEADER, f.nonce);
    md.set(AUTH_TAG_HEADER, internalCallTag(clusterKey, f));
    return md;
  };
}

/**
 * Nonces seen within the replay window, per node. Entries leave in arrival order once the window
 * has passed them, so memory is bounded by the call rate times the window.
 */
export class ReplayGuard {
  readonly windowMs: number;
  readonly #seen = new Map<string, number>();
  readonly #now: () => number;

  constructor(windowMs = DEFAULT_REPLAY_WINDOW_MS, now: () => number = Date.now) {
    this.windowMs = windowMs;
    this.#now = now;
  }

  /** Throws UnauthenticatedError for a stale or repeated tag; records a fresh one. */
  check(nodeId: string, method: string, timestampMs: number, nonce: string): void {
    const now = this.#now();
    if (!Number.isFinite(timestampMs) || Math.abs(now - timestampMs) > this.windowMs) {
      throw new UnauthenticatedError('stale_tag', `${method}: the tag of node "${nodeId}" was made ${Math.round((now - timestampMs) / 1000)} s from this node's clock, outside the ${this.windowMs / 1000} s window (are the clocks in sync?)`);
    }
    this.#prune(now);
    const key = `${nodeId}\n${nonce}`;
    if (this.#seen.has(key)) throw new UnauthenticatedError('replayed_tag', `${method}: node "${nodeId}" sent a tag this node has already seen (a replayed call)`);
    this.#seen.set(key, now + this.windowMs);
  }

  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    for (const [key, expires] of this.#seen) {
      // A timestamp up to a window old is accepted: keep its nonce a window past arrival.
      if (expires + this.windowMs > now) break;
      this.#seen.delete(key);
    }
  }
}

export interface VerifyOptions {
  /** This node's cluster id; a tag naming another is refused (`other_cluster`). */
  clusterId: string;
  /** Accept a tag of any cluster id (JoinCluster only: it compares the id in its request). */
  allowAnyCluster?: boolean;
  /**
   * SHA-256 of the received request bytes (`receivedDigest`), or STREAM_DIGEST for a stream.
   * Required: undefined (a request that did not come through our service definition) is refused,
   * never taken as an empty body.
   */
  digest: Uint8Array | undefined;
  replay: ReplayGuard;
}

/** Checks the tag of an incoming call of `method`; returns the caller's node id or throws UnauthenticatedError. */
export function verifyInternalCall(clusterKey: string, metadata: grpc.Metadata, method: string, options: VerifyOptions): string {
  return verifyTag(clusterKey, metadata, method, options).nodeId;
}

/** As `verifyInternalCall`, also returning the cluster id the tag names (with `allowAnyCluster`, the caller compares). */
export function verifyTag(clusterKey: string, metadata: grpc.Metadata, method: string, options: VerifyOptions): { nodeId: string; clusterId: string } {
  const one = (k: string) => {
    const v = metadata.get(k)[0];
    return typeof v === 'string' ? v : undefined;
  };
  const nodeId = one(NODE_ID_HEADER);
  const tag = one(AUTH_TAG_HEADER);
  const clusterId = one(CLUSTER_ID_HEADER);
  const ts = one(TIMESTAMP_HEADER);
  const nonce = one(NONCE_HEADER);
  if (nodeId === undefined || tag === undefined || clusterId === undefined || ts === undefined || nonce === undefined) {
    throw new UnauthenticatedError('missing_tag', `${method}: internal calls need ${NODE_ID_HEADER}, ${CLUSTER_ID_HEADER}, ${TIMESTAMP_HEADER}, ${NONCE_HEADER} and ${AUTH_TAG_HEADER} metadata (the cluster key)`);
  }
  if (options.digest === undefined) {
    throw new UnauthenticatedError('bad_tag', `${method}: the request's bytes were not seen, so its tag cannot be checked`);
  }
  const timestampMs = Number(ts);
  const want = Buffer.from(internalCallTag(clusterKey, { nodeId, clusterId, method, timestampMs, nonce, digest: options.digest }), 'hex');
  const got = Buffer.from(tag, 'hex');
  if (!/^\d{1,16}$/.test(ts) || got.length !== want.length || !timingSafeEqual(got, want)) {
    throw new UnauthenticatedError('bad_tag', `${method}: the ${AUTH_TAG_HEADER} tag of node "${nodeId}" does not match this cluster's key and this request`);
  }
  if (clusterId !== options.clusterId && !options.allowAnyCluster) {
    throw new UnauthenticatedError('other_cluster', `${method}: node "${nodeId}" belongs to another cluster`);
  }
  options.replay.check(nodeId, method, timestampMs, nonce);
  return { nodeId, clusterId };
}

/**
 * With TLS, refuses a call whose connection presented no certificate signed by the CA. grpc-js
 * reports a peer certificate only for connections Node marked `authorized`, i.e. whose client
 * certificate verified against the server's CA.
 */
export function requireNodeCertificate(call: { getAuthContext(): { sslPeerCertificate?: unknown } | null }, method: string): void {
  const auth = call.getAuthContext();
  if (!auth?.sslPeerCertificate) {
    throw new UnauthenticatedError('no_client_certificate', `${method}: internal calls need a client certificate signed by the cluster CA`);
  }
}

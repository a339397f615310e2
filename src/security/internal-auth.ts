/**
 * Who may call the node-to-node (EngramInternal) service.
 *
 * Two independent checks, both on every internal call:
 * - the cluster key: the caller sends `engram-node-id` and `engram-auth` =
 *   hex(HMAC-SHA256(clusterKey, nodeId + '\n' + method)). It proves the caller knows the key and
 *   binds the tag to one method; it does not prove freshness nor cover the request body, so on a
 *   plaintext network a captured tag can be replayed for the same method. TLS is what gives
 *   confidentiality and integrity; the tag keeps a process that merely reaches the port out.
 * - with TLS, the connection must have presented a client certificate signed by the cluster CA.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { UnauthenticatedError } from '../errors.js';

/** Why an internal call was refused (the class lives with every public error in src/errors.ts). */
export type { AuthFailureReason } from '../errors.js';

/** Metadata key naming the calling node. */
export const NODE_ID_HEADER = 'engram-node-id';
/** Metadata key of the HMAC tag. */
export const AUTH_TAG_HEADER = 'engram-auth';

/** The tag of `method` called by `nodeId`, hex. */
export function internalCallTag(clusterKey: string, nodeId: string, method: string): string {
  return createHmac('sha256', clusterKey).update(`${nodeId}\n${method}`).digest('hex');
}

/** Metadata for node-to-node calls: what the pool and the peer clients attach to every call. */
export function internalCallMetadata(clusterKey: string, nodeId: string): (method: string) => grpc.Metadata {
  // A handful of methods: compute each tag once.
  const tags = new Map<string, string>();
  return (method) => {
    let tag = tags.get(method);
    if (tag === undefined) {
      tag = internalCallTag(clusterKey, nodeId, method);
      tags.set(method, tag);
    }
    const md = new grpc.Metadata();
    md.set(NODE_ID_HEADER, nodeId);
    md.set(AUTH_TAG_HEADER, tag);
    return md;
  };
}

/** Checks the tag of an incoming call of `method`; returns the caller's node id or throws UnauthenticatedError. */
export function verifyInternalCall(clusterKey: string, metadata: grpc.Metadata, method: string): string {
  const nodeId = metadata.get(NODE_ID_HEADER)[0];
  const tag = metadata.get(AUTH_TAG_HEADER)[0];
  if (typeof nodeId !== 'string' || typeof tag !== 'string') {
    throw new UnauthenticatedError('missing_tag', `${method}: internal calls need ${NODE_ID_HEADER} and ${AUTH_TAG_HEADER} metadata (the cluster key)`);
  }
  const want = Buffer.from(internalCallTag(clusterKey, nodeId, method), 'hex');
  const got = Buffer.from(tag, 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    throw new UnauthenticatedError('bad_tag', `${method}: the ${AUTH_TAG_HEADER} tag of node "${nodeId}" does not match this cluster's key`);
  }
  return nodeId;
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

/**
 * The coordinator side of node-to-node calls: a connection pool whose every call carries the
 * cluster-key tag (and, with TLS, this node's certificate), and the scatter's transport over it.
 * The reference node uses these too, so an embedding node makes exactly the calls it makes.
 */
import { InvalidArgumentError } from '../errors.js';
import { ConnectionPool } from '../pool/connection-pool.js';
import type { ConnectionPoolOptions } from '../pool/pool-options.js';
import type { PartitionTransport } from '../query/remote-partition-client.js';
import { coalescingTransport } from '../query/coalescing-transport.js';
import { channelCredentials } from '../security/credentials.js';
import { internalCallMetadata } from '../security/internal-auth.js';
import type { TlsConfig } from '../security/tls-config.js';

export interface InternalPoolOptions extends Omit<ConnectionPoolOptions, 'credentials' | 'callMetadata'> {
  /** This node's id, named in every call's tag. */
  nodeId: string;
  /** The cluster's shared key. */
  clusterKey: string;
  /** The cluster's id, named in every call's tag (the receivers' `clusterId`). Default ''. */
  clusterId?: string;
  /** CA, and this node's certificate and key: mutual TLS to the other nodes. Default plaintext. */
  tls?: TlsConfig;
}

/** A pool for `EngramInternal` calls, authenticated as node `nodeId` of the cluster. */
export function internalPool(options: InternalPoolOptions): ConnectionPool {
  const { nodeId, clusterKey, clusterId, tls, ...rest } = options;
  // Checked here, not at the first call: a missing key would otherwise surface there as a
  // TypeError from the HMAC, and an empty one as every peer refusing the tag.
  if (typeof nodeId !== 'string' || !NODE_ID.test(nodeId)) throw new InvalidArgumentError('nodeId', nodeId, '1-64 characters of [A-Za-z0-9_.-]');
  checkClusterKey(clusterKey);
  return new ConnectionPool({ ...rest, credentials: channelCredentials(tls), callMetadata: internalCallMetadata(clusterKey, nodeId, clusterId ?? '') });
}

/** The node id form every node uses (engram-node checks the same at start). */
const NODE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** A cluster key must be a non-empty string; InvalidArgumentError otherwise. */
export function checkClusterKey(clusterKey: unknown): void {
  if (typeof clusterKey !== 'string' || clusterKey.length === 0) throw new InvalidArgumentError('clusterKey', clusterKey, 'must be a non-empty string');
}

/**
 * The scatter's transport: `ExecuteLocal` on a pooled channel, cancelled through the signal; the
 * calls of one scatter to the same node go as one `ExecuteLocalBatch` (coalescing-transport.ts).
 */
export function poolTransport(pool: ConnectionPool): PartitionTransport {
  return coalescingTransport((address, method, request, options) => pool.unary(address, method, request, options));
}

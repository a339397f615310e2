/**
 * The coordinator side of node-to-node calls: a connection pool whose every call carries the
 * cluster-key tag (and, with TLS, this node's certificate), and the scatter's transport over it.
 * The reference node uses these too, so an embedding node makes exactly the calls it makes.
 */
import { ConnectionPool } from '../pool/connection-pool.js';
import type { ConnectionPoolOptions } from '../pool/pool-options.js';
import type { PartitionTransport } from '../query/scatter.js';
import { channelCredentials } from '../security/credentials.js';
import { internalCallMetadata } from '../security/internal-auth.js';
import type { TlsConfig } from '../security/tls-config.js';

export interface InternalPoolOptions extends Omit<ConnectionPoolOptions, 'credentials' | 'callMetadata'> {
  /** This node's id, named in every call's tag. */
  nodeId: string;
  /** The cluster's shared key. */
  clusterKey: string;
  /** CA, and this node's certificate and key: mutual TLS to the other nodes. Default plaintext. */
  tls?: TlsConfig;
}

/** A pool for `EngramInternal` calls, authenticated as node `nodeId` of the cluster. */
export function internalPool(options: InternalPoolOptions): ConnectionPool {
  const { nodeId, clusterKey, tls, ...rest } = options;
  return new ConnectionPool({ ...rest, credentials: channelCredentials(tls), callMetadata: internalCallMetadata(clusterKey, nodeId) });
}

/** The scatter's transport: `ExecuteLocal` on a pooled channel, cancelled through the signal. */
export function poolTransport(pool: ConnectionPool): PartitionTransport {
  return { executeLocal: (address, request, options) => pool.unary(address, 'ExecuteLocal', request, options) };
}

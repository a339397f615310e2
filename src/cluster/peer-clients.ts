/**
 * How the cluster reaches other nodes: internal calls go through the node's connection pool
 * (`InternalCalls`, one mechanism for queries, table exchange and replication); `PeerClients`
 * only forwards public calls (a write sent on to its primary).
 */
import * as grpc from '@grpc/grpc-js';
import { protos, LEAN_CHANNEL_OPTIONS } from '../wire/proto.js';

/** Deadline of one node-to-node call when the caller gives none, ms. */
export const DEFAULT_PEER_DEADLINE_MS = 5_000;

/** Calls `method` of another node's internal service; the deadline (ms from now) cancels it. */
export interface InternalCalls {
  internal<T>(address: string, method: string, request: unknown, deadlineMs: number): Promise<T>;
}

type AnyClient = grpc.Client & Record<string, Function>;

export interface PeerClientsOptions {
  /** Credentials of every channel (TLS between nodes); default plaintext. */
  credentials?: grpc.ChannelCredentials;
}

/** Public-service clients of other nodes, one channel per address, for forwarded calls. */
export class PeerClients {
  readonly #public = new Map<string, AnyClient>();
  readonly #credentials: grpc.ChannelCredentials;
  #closed = false;

  constructor(options: PeerClientsOptions = {}) {
    this.#credentials = options.credentials ?? grpc.credentials.createInsecure();
  }

  #client(address: string): AnyClient {
    let client = this.#public.get(address);
    if (!client) {
      client = new (protos().PublicClient)(address, this.#credentials, {
        ...LEAN_CHANNEL_OPTIONS,
        'grpc.keepalive_time_ms': 30_000,
      }) as AnyClient;
      this.#public.set(address, client);
    }
    return client;
  }

  /** Calls `method` of the public service at `address`; forwarded calls need no cluster-key tag. */
  public<T>(address: string, method: string, request: unknown, deadlineMs = DEFAULT_PEER_DEADLINE_MS): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('peer clients are closed'));
    const client = this.#client(address);
    return new Promise((resolve, reject) => {
      client[method]!(request, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
    });
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#public.values()) c.close();
    this.#public.clear();
  }
}

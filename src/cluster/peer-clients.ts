/**
 * gRPC clients of the other nodes, one channel per node address, reused by every caller on this
 * node (the query path's connection pool of issue 5 will take this over).
 */
import * as grpc from '@grpc/grpc-js';
import { protos, LEAN_CHANNEL_OPTIONS } from '../wire/proto.js';

/** Deadline of one node-to-node call when the caller gives none, ms. */
export const DEFAULT_PEER_DEADLINE_MS = 5_000;

type AnyClient = grpc.Client & Record<string, Function>;

export interface PeerClientsOptions {
  /** Credentials of every channel (TLS between nodes); default plaintext. */
  credentials?: grpc.ChannelCredentials;
  /** Metadata sent with each internal call of `method` (the cluster-key tag); default none. */
  callMetadata?: (method: string) => grpc.Metadata;
}

export class PeerClients {
  readonly #internal = new Map<string, AnyClient>();
  readonly #public = new Map<string, AnyClient>();
  readonly #credentials: grpc.ChannelCredentials;
  readonly #callMetadata: ((method: string) => grpc.Metadata) | undefined;
  #closed = false;

  constructor(options: PeerClientsOptions = {}) {
    this.#credentials = options.credentials ?? grpc.credentials.createInsecure();
    this.#callMetadata = options.callMetadata;
  }

  #client(kind: 'internal' | 'public', address: string): AnyClient {
    const map = kind === 'internal' ? this.#internal : this.#public;
    let client = map.get(address);
    if (!client) {
      const { InternalClient, PublicClient } = protos();
      const Ctor = kind === 'internal' ? InternalClient : PublicClient;
      client = new Ctor(address, this.#credentials, {
        ...LEAN_CHANNEL_OPTIONS,
        'grpc.keepalive_time_ms': 30_000,
      }) as AnyClient;
      map.set(address, client);
    }
    return client;
  }

  /** Calls `method` of the internal (node-to-node) service at `address`; the deadline cancels the call. */
  internal<T>(address: string, method: string, request: unknown, deadlineMs = DEFAULT_PEER_DEADLINE_MS): Promise<T> {
    return this.#call('internal', address, method, request, deadlineMs);
  }

  /** Calls `method` of the public service at `address` (used to forward writes to a primary). */
  public<T>(address: string, method: string, request: unknown, deadlineMs = DEFAULT_PEER_DEADLINE_MS): Promise<T> {
    return this.#call('public', address, method, request, deadlineMs);
  }

  #call<T>(kind: 'internal' | 'public', address: string, method: string, request: unknown, deadlineMs: number): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('peer clients are closed'));
    const client = this.#client(kind, address);
    // Forwarded public calls (Store to a primary) need no tag: the public service takes anyone.
    const metadata = (kind === 'internal' ? this.#callMetadata?.(method) : undefined) ?? new grpc.Metadata();
    return new Promise((resolve, reject) => {
      client[method]!(request, metadata, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
    });
  }

  close(): void {
    this.#closed = true;
    for (const c of [...this.#internal.values(), ...this.#public.values()]) c.close();
    this.#internal.clear();
    this.#public.clear();
  }
}

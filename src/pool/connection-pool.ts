/**
 * The query path's gRPC connection pool: channels to other nodes' EngramInternal service, reused
 * across queries, one per address unless in-flight calls approach the server's stream limit,
 * evicted after a transport failure and re-dialled after a per-address backoff.
 */
import * as grpc from '@grpc/grpc-js';
import { AbortError, InvalidArgumentError, PoolClosedError } from '../errors.js';
import { AddressChannels } from './address-channels.js';
import { EncodedRequest, encodeInternalRequest } from '../wire/proto.js';
import { parsePoolOptions, type ConnectionPoolOptions, type ParsedPoolOptions } from './pool-options.js';
import type { PooledChannel } from './pooled-channel.js';

export interface UnaryCallOptions {
  /** absolute deadline, ms since epoch */
  deadline: number;
  signal?: AbortSignal;
  /**
   * Extra metadata to send (the W3C trace context). Added after signing and outside the tag; a
   * key the signer already set (the tag's own headers) is never replaced.
   */
  headers?: Readonly<Record<string, string>>;
}

export interface ConnectionPoolStats {
  /** Channels (connections) opened since the pool was made. */
  connectionsCreated: number;
  /** Calls dispatched on a channel. */
  callsServed: number;
  /** Calls dispatched on a channel that existed before the call; reuse ratio = this / callsServed. */
  callsOnExistingConnection: number;
  /** Channels closed after a transport failure. */
  evictions: number;
  /** Channels open now. */
  open: number;
  /** Calls waiting for an answer now. */
  inFlight: number;
}

export class ConnectionPool {
  readonly #options: ParsedPoolOptions;
  readonly #addresses = new Map<string, AddressChannels>();
  readonly #stats = { connectionsCreated: 0, callsServed: 0, callsOnExistingConnection: 0, evictions: 0 };
  readonly #calls = new Set<grpc.ClientUnaryCall>();
  #inFlight = 0;
  #closed = false;

  constructor(options?: ConnectionPoolOptions) {
    this.#options = parsePoolOptions(options);
  }

  /**
   * Calls EngramInternal.<method> at `address`. Aborting `signal` cancels the RPC on the wire
   * (call.cancel()), and the promise rejects with AbortError from src/errors.ts.
   *
   * Other failures reject with the grpc-js ServiceError (its `code` tells DEADLINE_EXCEEDED from
   * UNAVAILABLE), with ConnectionBackoffError while `address` backs off, or PoolClosedError.
   */
  unary<Res>(address: string, method: string, request: unknown, options: UnaryCallOptions): Promise<Res> {
    if (this.#closed) return Promise.reject(new PoolClosedError());
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new AbortError());
    // Signed calls carry a tag over the request's bytes: serialize once, here, and send those.
    const sign = this.#options.callMetadata;
    let body = request;
    let metadata: grpc.Metadata;
    try {
      if (sign) {
        const bytes = encodeInternalRequest(method, request);
        metadata = sign(method, bytes);
        body = new EncodedRequest(bytes);
      } else {
        metadata = new grpc.Metadata();
      }
      if (options.headers) {
        for (const key in options.headers) if (metadata.get(key).length === 0) metadata.set(key, options.headers[key]!);
      }
    } catch (err) {
      return Promise.reject(/is not a method of EngramInternal/.test(String(err)) ? new InvalidArgumentError('method', method, 'is not a method of EngramInternal') : err);
    }
    let channels = this.#addresses.get(address);
    if (!channels) {
      channels = new AddressChannels(address, this.#options);
      this.#addresses.set(address, channels);
    }
    let lease;
    try {
      lease = channels.acquire();
    } catch (err) {
      return Promise.reject(err);
    }
    const { channel, reused } = lease;
    const fn = channel.client[method];
    if (typeof fn !== 'function') {
      channels.release(channel);
      return Promise.reject(new InvalidArgumentError('method', method, 'is not a method of EngramInternal'));
    }
    if (!reused) this.#stats.connectionsCreated++;
    this.#stats.callsServed++;
    if (reused) this.#stats.callsOnExistingConnection++;
    this.#inFlight++;

    return new Promise<Res>((resolve, reject) => {
      let aborted = false;
      const onAbort = (): void => {
        aborted = true;
        call.cancel();
      };
      const call = fn.call(channel.client, body, metadata, { deadline: options.deadline }, (err, res) => {
        this.#inFlight--;
        this.#calls.delete(call);
        channels.release(channel);
        signal?.removeEventListener('abort', onAbort);
        if (aborted) return reject(new AbortError());
        if (this.#closed) return reject(new PoolClosedError());
        if (!err) {
          channels.succeeded();
          return resolve(res as Res);
        }
        this.#settleFailure(channels, channel, err);
        reject(err);
      });
      this.#calls.add(call);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #settleFailure(channels: AddressChannels, channel: PooledChannel, err: grpc.ServiceError): void {
    // UNAVAILABLE from a connection that is still READY was sent by the server itself (e.g. an
    // engine shutting down): the connection is fine and the node reachable, so keep both. Only a
    // channel that lost or never got its connection is evicted and its address backed off.
    if (err.code === grpc.status.UNAVAILABLE && !channel.connected()) {
      if (channels.evict(channel, err)) this.#stats.evictions++;
    } else if (err.code !== grpc.status.CANCELLED && err.code !== grpc.status.DEADLINE_EXCEEDED) {
      // The server answered with a status: the address is reachable.
      channels.succeeded();
    }
  }

  stats(): ConnectionPoolStats {
    let open = 0;
    for (const a of this.#addresses.values()) open += a.channels.length;
    return { ...this.#stats, open, inFlight: this.#inFlight };
  }

  /**
   * Closes every channel; later calls reject with PoolClosedError. Calls in flight are cancelled
   * on the wire and reject with PoolClosedError too. grpc-js 1.14 ends them when their channel
   * closes as well; cancelling them here keeps that promise whatever grpc-js does on close.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const call of this.#calls) call.cancel();
    for (const a of this.#addresses.values()) a.close();
    this.#addresses.clear();
  }
}

/**
 * One pooled channel: a grpc-js client of EngramInternal that owns exactly one connection, and the
 * count of calls in flight on it.
 */
import * as grpc from '@grpc/grpc-js';
import { protos, LEAN_CHANNEL_OPTIONS } from '../wire/proto.js';
import type { ParsedPoolOptions } from './pool-options.js';

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, res: unknown) => void,
) => grpc.ClientUnaryCall;
type InternalClient = grpc.Client & Record<string, UnaryMethod | undefined>;

export class PooledChannel {
  readonly client: InternalClient;
  inFlight = 0;

  constructor(readonly address: string, options: ParsedPoolOptions) {
    this.client = new (protos().InternalClient)(address, options.credentials, {
      ...LEAN_CHANNEL_OPTIONS,
      // grpc-js shares subchannels (and so TCP connections) between clients whose target and
      // options are equal, through a process-wide subchannel pool. A channel-local pool makes each
      // PooledChannel its own connection: a second channel under stream pressure really adds
      // streams, and a channel evicted after a transport failure takes its broken subchannel with
      // it instead of leaving it in the global pool for the re-dial to pick up again.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.keepalive_time_ms': options.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs,
      // Pooled connections sit idle between queries; pinging them then finds a peer that died or
      // was cut off before a query has to spend its deadline on it. EngramInternal servers are
      // grpc-js, which does not police ping rates; a gRPC C core or Go server would need its
      // keepalive enforcement policy relaxed to accept pings without calls every 30 s.
      'grpc.keepalive_permit_without_calls': 1,
    }) as InternalClient;
  }

  /** True when the channel has a live connection (READY), as opposed to connecting or failed. */
  connected(): boolean {
    return this.client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY;
  }

  close(): void {
    this.client.close();
  }
}

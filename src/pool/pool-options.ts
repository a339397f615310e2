/**
 * Options of the connection pool, their defaults, and the validating parse that fills them in.
 */
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from '../errors.js';
import type { PoolMetrics } from './pool-metrics.js';

/**
 * In-flight calls one channel carries before the pool opens another to the same address, default
 * 100: the SETTINGS_MAX_CONCURRENT_STREAMS that gRPC C core and grpc-go servers advertise. Calls
 * past a server's limit queue inside the HTTP/2 session instead of failing, so they would wait
 * for a free stream while their deadline runs.
 */
export const DEFAULT_MAX_STREAMS_PER_CHANNEL = 100;
/** First wait after a transport failure before an address is dialled again, ms. */
export const DEFAULT_INITIAL_BACKOFF_MS = 100;
/** Longest wait between dials of a failing address, ms. */
export const DEFAULT_MAX_BACKOFF_MS = 5_000;
/** Interval of HTTP/2 keepalive pings on every pooled connection, ms. */
export const DEFAULT_KEEPALIVE_TIME_MS = 30_000;
/** How long a keepalive ping may go unanswered before the connection is dropped, ms. */
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 10_000;

export interface ConnectionPoolOptions {
  /** In-flight calls per channel before another channel is opened to that address; default 100. */
  maxStreamsPerChannel?: number;
  /** First backoff after a transport failure, ms; default 100; 0 re-dials at once. Doubles per failure. */
  initialBackoffMs?: number;
  /** Backoff ceiling, ms; default 5,000. */
  maxBackoffMs?: number;
  /** Keepalive ping interval, ms; default 30,000. Pings also run on idle connections (see pooled-channel.ts). */
  keepaliveTimeMs?: number;
  /** Keepalive ping timeout, ms; default 10,000. */
  keepaliveTimeoutMs?: number;
  /** Receives connection and call events (e.g. QueryMetrics); default none. */
  metrics?: PoolMetrics;
  /** Monotonic clock for backoff, ms; default performance.now. Tests inject one to step time. */
  now?: () => number;
  /** Credentials of every pooled channel (TLS between nodes); default plaintext. */
  credentials?: grpc.ChannelCredentials;
  /** Metadata sent with each call of `method` (the cluster-key tag); default none. */
  callMetadata?: (method: string, requestBytes?: Uint8Array) => grpc.Metadata;
}

export interface ParsedPoolOptions {
  maxStreamsPerChannel: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  metrics: PoolMetrics | undefined;
  now: () => number;
  credentials: grpc.ChannelCredentials;
  callMetadata: ((method: string, requestBytes?: Uint8Array) => grpc.Metadata) | undefined;
}

/** Validates `options` (without changing it) and fills in the defaults; an explicit 0 stays 0. */
export function parsePoolOptions(options: ConnectionPoolOptions = {}): ParsedPoolOptions {
  const parsed: ParsedPoolOptions = {
    maxStreamsPerChannel: options.maxStreamsPerChannel ?? DEFAULT_MAX_STREAMS_PER_CHANNEL,
    initialBackoffMs: options.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS,
    maxBackoffMs: options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
    keepaliveTimeMs: options.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
    metrics: options.metrics,
    now: options.now ?? (() => performance.now()),
    credentials: options.credentials ?? grpc.credentials.createInsecure(),
    callMetadata: options.callMetadata,
  };
  if (!Number.isInteger(parsed.maxStreamsPerChannel) || parsed.maxStreamsPerChannel < 1) {
    throw new ConfigError('maxStreamsPerChannel', `must be an integer >= 1 (got ${parsed.maxStreamsPerChannel})`);
  }
  for (const key of ['initialBackoffMs', 'maxBackoffMs', 'keepaliveTimeoutMs'] as const) {
    if (!Number.isFinite(parsed[key]) || parsed[key] < 0) throw new ConfigError(key, `must be a finite number >= 0 (got ${parsed[key]})`);
  }
  // grpc-js reads keepalive_time_ms <= 0 as "no keepalive", which the pool does not offer: a dead
  // peer would then only be noticed by the next query's deadline.
  if (!Number.isFinite(parsed.keepaliveTimeMs) || parsed.keepaliveTimeMs < 1) {
    throw new ConfigError('keepaliveTimeMs', `must be a finite number >= 1 (got ${parsed.keepaliveTimeMs})`);
  }
  if (parsed.maxBackoffMs < parsed.initialBackoffMs) {
    throw new ConfigError('maxBackoffMs', `must be >= initialBackoffMs (${parsed.initialBackoffMs}), got ${parsed.maxBackoffMs}`);
  }
  return parsed;
}

/** EngramClient's options, their defaults, and the one function that validates them. */
import { InvalidArgumentError } from '../errors.js';
import type { TlsConfig } from '../security/tls-config.js';

/** Default deadline of one client call, ms, across every node it tries. */
export const DEFAULT_CLIENT_DEADLINE_MS = 30_000;
/** Default age after which the client asks again for the placement table, ms. */
export const DEFAULT_TABLE_REFRESH_MS = 5_000;

/**
 * Where a call goes. `owner`: a call that reads or writes one space goes straight to a node that
 * holds a copy of it, learnt from the cluster's placement table (no coordinator hop); everything
 * else, and any call the table cannot place, goes to the configured nodes. `any`: every call goes
 * to the configured nodes, which coordinate.
 */
export type RoutingMode = 'owner' | 'any';

export interface EngramClientOptions {
  /** Nodes to call, `HOST:PORT`, tried in this order; at least one. */
  nodes: string[];
  /**
   * TLS: verify each node against `ca` (its certificate must name the host of its address);
   * `cert` and `key` are optional, the public service needs none. Default plaintext. Also used
   * for the copy holders the client learns of.
   */
  tls?: TlsConfig;
  /** Deadline of a call that sets none, ms. Default DEFAULT_CLIENT_DEADLINE_MS. */
  deadlineMs?: number;
  /** Default `owner`; see RoutingMode. */
  routing?: RoutingMode;
  /**
   * Age after which the placement table is asked for again (one Status call, in the background
   * of the call that finds it old), ms; 0 asks on every call that routes. Default
   * DEFAULT_TABLE_REFRESH_MS. A copy holder that failed is also skipped for this long.
   */
  tableRefreshMs?: number;
  /**
   * Bearer token sent as `authorization: Bearer TOKEN` on every call (including the Status calls
   * that learn the table), for a node started with `--client-tokens`. Default none.
   */
  token?: string;
}

/** Options of one call. */
export interface CallOptions {
  /** This call's deadline, ms from now, across every node it tries. Default: the client's `deadlineMs`. */
  deadlineMs?: number;
  /** Aborting cancels the call on the wire (the node sees it cancelled) and rejects it with AbortError. */
  signal?: AbortSignal;
}

export interface ClientSettings {
  nodes: string[];
  tls: TlsConfig | undefined;
  deadlineMs: number;
  routing: RoutingMode;
  tableRefreshMs: number;
  token: string | undefined;
}

export function checkMs(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new InvalidArgumentError(field, value, 'must be a number of ms ≥ 0');
  return value;
}

/** Validates `options` once (an explicit 0 stays 0); the input is not changed. */
export function parseClientOptions(options: EngramClientOptions): ClientSettings {
  const nodes: unknown = options?.nodes;
  if (!Array.isArray(nodes) || nodes.length === 0) throw new InvalidArgumentError('nodes', nodes, 'name at least one node (HOST:PORT)');
  nodes.forEach((n, i) => {
    if (typeof n !== 'string' || n.trim() === '') throw new InvalidArgumentError(`nodes[${i}]`, n, 'must be HOST:PORT');
  });
  const routing = options.routing ?? 'owner';
  if (routing !== 'owner' && routing !== 'any') throw new InvalidArgumentError('routing', routing, "must be 'owner' or 'any'");
  const token: unknown = options.token;
  if (token !== undefined && (typeof token !== 'string' || !/^\S+$/.test(token))) throw new InvalidArgumentError('token', token, 'must be a non-empty string without spaces');
  return {
    nodes: [...(nodes as string[])],
    token: token as string | undefined,
    tls: options.tls,
    deadlineMs: options.deadlineMs === undefined ? DEFAULT_CLIENT_DEADLINE_MS : checkMs('deadlineMs', options.deadlineMs),
    routing,
    tableRefreshMs: options.tableRefreshMs === undefined ? DEFAULT_TABLE_REFRESH_MS : checkMs('tableRefreshMs', options.tableRefreshMs),
  };
}

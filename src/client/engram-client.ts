/**
 * A promise client of the public `Engram` service over a list of nodes (DESIGN §8). A call goes
 * to the node that answered last (the first one at the start) and fails over to the next node on
 * UNAVAILABLE: the node could not be reached, or it answered with an error that another node may
 * not have (its primary unreachable from there, or it is stopping). One deadline covers every
 * node a call tries; an AbortSignal cancels the call on the wire. Failures come back as the typed
 * classes of src/errors.ts, with the coverage a query error carries.
 *
 * Every call is safe to send again to another node, which is what failover does:
 * - ExecuteQuery and Status read. (Consolidate writes, but a second run over the same memories
 *   creates nothing: existing patterns never change, docs/engine.md.)
 * - Store is idempotent by memory id: storing an id again replaces it with the same values, and
 *   restating an association replaces its weight with the same weight (docs/engine.md). Only a
 *   `createdAt` left to the node ("now") may take the retry's time.
 * - CreateSpace is a compare-and-set: the same id and dimension again is a no-op (a retry may
 *   answer `created: false` for the space its first attempt created).
 */
import * as grpc from '@grpc/grpc-js';
import { AbortError, DeadlineExceededError, EngramRpcError, InvalidArgumentError, NodeUnavailableError, type EngramError } from '../errors.js';
import { fromGrpcError, typedErrorOf } from '../wire/grpc-errors.js';
import { Deadline } from '../query/deadline.js';
import { resultFromWire } from '../query/result-wire.js';
import type { ResultOf } from '../query/result.js';
import { optionsToWire, queryToWire } from '../query/to-wire.js';
import type { Query, QueryOptions } from '../query/types.js';
import { channelCredentials } from '../security/credentials.js';
import type { TlsConfig } from '../security/tls-config.js';
import { LEAN_CHANNEL_OPTIONS, protos } from '../wire/proto.js';

/** Default deadline of one client call, ms, across every node it tries. */
export const DEFAULT_CLIENT_DEADLINE_MS = 30_000;

export interface EngramClientOptions {
  /** Nodes to call, `HOST:PORT`, tried in this order; at least one. */
  nodes: string[];
  /**
   * TLS: verify each node against `ca` (its certificate must name the host of its address);
   * `cert` and `key` are optional, the public service needs none. Default plaintext.
   */
  tls?: TlsConfig;
  /** Deadline of a call that sets none, ms. Default DEFAULT_CLIENT_DEADLINE_MS. */
  deadlineMs?: number;
}

/** Options of one call. */
export interface CallOptions {
  /** This call's deadline, ms from now, across every node it tries. Default: the client's `deadlineMs`. */
  deadlineMs?: number;
  /** Aborting cancels the call on the wire (the node sees it cancelled) and rejects it with AbortError. */
  signal?: AbortSignal;
}

export interface MemoryRecord {
  id: string;
  embedding: Float32Array | number[];
  content?: string;
  confidence?: { lower: number; upper: number };
  createdAt?: number;
}
export interface AssociationRecord { from: string; to: string; weight: number; toSpace?: string }
/**
 * When a write is acknowledged: `quorum` (default) once committed, durable on a majority of the
 * space's copies; `all` once applied on every copy. (`one` is retired: a failover could take it back.)
 */
export type AckLevel = 'quorum' | 'all';

export interface SpaceStatus { id: string; dimension: number; memories: number; associations: number; logPosition: number; patterns: number }
export interface MemberStatus { id: string; grpcAddress: string; gossipAddress: string; state: 'alive' | 'suspect' | 'down' | 'left'; incarnation: number }
export interface AssignmentStatus { space: string; primary: string; replicas: string[]; dimension: number; version: number }
/** A node's copy of a space's Raft group (`status`); `peers` and their `matched` are filled on the leader. */
export interface SpaceGroupStatus {
  space: string;
  leader: string;
  term: number;
  role: string;
  voters: string[];
  learners: string[];
  commit: number;
  applied: number;
  peers: { node: string; kind: string; matched: number }[];
  /** SHA-256 of the copy's content: equal on two copies exactly when they applied the same entries. */
  digest: string;
  /** Index of the group's last snapshot here: its Raft log holds only the entries after it. */
  snapshotIndex: number;
}
/** The metadata group as one node sees it. */
export interface MetaStatus {
  clusterId: string;
  /** Node id of the metadata leader, empty when none is known. */
  leader: string;
  term: number;
  voters: string[];
  learners: string[];
  applied: number;
  commit: number;
  /** SHA-256 of the applied table: equal on two nodes exactly when their tables are. */
  digest: string;
  role: string;
}
export interface NodeStatus {
  nodeId: string;
  /** The data directory's storage id (a UUID); a wiped directory reports a new one. */
  storageId: string;
  version: string;
  uptimeS: number;
  grpcAddress: string;
  spaces: SpaceStatus[];
  /** Empty for a node without a cluster. */
  gossipAddress: string;
  members: MemberStatus[];
  tableVersion: number;
  assignments: AssignmentStatus[];
  /** This node's copy of every space group it holds. */
  groups: SpaceGroupStatus[];
  partitionState: 'connected' | 'partitioned' | 'healing';
  /** Null for a node without a cluster. */
  meta: MetaStatus | null;
}

type AnyClient = grpc.Client & Record<string, Function>;

function checkDeadline(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new InvalidArgumentError(field, value, 'must be a number of ms ≥ 0');
  return value;
}

export class EngramClient {
  /** The nodes this client calls, in the order it tries them. */
  readonly nodes: readonly string[];
  readonly #deadlineMs: number;
  readonly #credentials: grpc.ChannelCredentials;
  readonly #clients: (AnyClient | undefined)[];
  /** The node that answered last: calls start there. */
  #preferred = 0;
  #closed = false;
  /** Calls on the wire, cancelled by close(). */
  readonly #inFlight = new Set<grpc.ClientUnaryCall>();

  constructor(options: EngramClientOptions) {
    const nodes: unknown = options?.nodes;
    if (!Array.isArray(nodes) || nodes.length === 0) throw new InvalidArgumentError('nodes', nodes, 'name at least one node (HOST:PORT)');
    nodes.forEach((n, i) => {
      if (typeof n !== 'string' || n.trim() === '') throw new InvalidArgumentError(`nodes[${i}]`, n, 'must be HOST:PORT');
    });
    this.nodes = [...(nodes as string[])];
    this.#deadlineMs = options.deadlineMs === undefined ? DEFAULT_CLIENT_DEADLINE_MS : checkDeadline('deadlineMs', options.deadlineMs);
    this.#credentials = channelCredentials(options.tls);
    this.#clients = this.nodes.map(() => undefined);
  }

  #client(index: number): AnyClient {
    // A call failing over after close() must not open a channel nobody would close.
    if (this.#closed) throw new EngramRpcError(grpc.status.CANCELLED, 'the client is closed');
    let client = this.#clients[index];
    if (!client) {
      client = new (protos().PublicClient)(this.nodes[index]!, this.#credentials, { ...LEAN_CHANNEL_OPTIONS }) as AnyClient;
      this.#clients[index] = client;
    }
    return client;
  }

  /** One call, failing over across the nodes within one deadline. */
  async #call<T>(method: string, request: unknown, options: CallOptions = {}): Promise<T> {
    const deadlineMs = options.deadlineMs === undefined ? this.#deadlineMs : checkDeadline('deadlineMs', options.deadlineMs);
    const { signal } = options;
    if (this.#closed) throw new EngramRpcError(grpc.status.CANCELLED, `${method}: the client is closed`);
    if (signal?.aborted) throw new AbortError(`${method} aborted before it was sent`, { cause: signal.reason });
    const deadline = new Deadline(deadlineMs);
    // A node's own answer says more than a connection that failed: it wins if nothing succeeds.
    let answered: EngramError | undefined;
    const unreachable: string[] = [];
    let lastFailure: unknown;
    for (let i = 0; i < this.nodes.length && !deadline.expired(); i++) {
      if (this.#closed) throw new EngramRpcError(grpc.status.CANCELLED, `${method}: the client is closed`);
      const index = (this.#preferred + i) % this.nodes.length;
      try {
        const res = await this.#attempt<T>(index, method, request, deadline, signal);
        this.#preferred = index;
        return res;
      } catch (raw) {
        if (signal?.aborted) throw new AbortError(`${method} aborted`, { cause: signal.reason });
        if (this.#closed) throw new EngramRpcError(grpc.status.CANCELLED, `${method}: the client was closed`, { cause: raw });
        const err = raw as grpc.ServiceError;
        const typed = typedErrorOf(err);
        if (typed) {
          if (!typed.retryable) throw typed;
          answered = typed;
          continue;
        }
        if (err.code === grpc.status.UNAVAILABLE) {
          unreachable.push(this.nodes[index]!);
          lastFailure = err;
          continue;
        }
        if (err.code === grpc.status.DEADLINE_EXCEEDED) throw new DeadlineExceededError(method, deadlineMs, { cause: err });
        throw fromGrpcError(err);
      }
    }
    if (answered) throw answered;
    if (unreachable.length > 0) throw new NodeUnavailableError(unreachable, { cause: lastFailure });
    throw new DeadlineExceededError(method, deadlineMs);
  }

  /** One call to one node; `signal` cancels it on the wire. Rejects with the grpc-js ServiceError. */
  #attempt<T>(index: number, method: string, request: unknown, deadline: Deadline, signal: AbortSignal | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = this.#client(index)[method]!(request, { deadline: deadline.wallClock() }, (err: grpc.ServiceError | null, res: T) => {
        signal?.removeEventListener('abort', onAbort);
        this.#inFlight.delete(call);
        if (err) reject(err);
        else resolve(res);
      }) as grpc.ClientUnaryCall;
      this.#inFlight.add(call);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** `copies`: copies including the primary for those the cluster picks (default: the node's replication factor). */
  createSpace(space: string, options: { dimension?: number; primary?: string; replicas?: string[]; copies?: number } = {}, call?: CallOptions) {
    return this.#call<{ space: string; dimension: number; created: boolean; primary: string; replicas: string[] }>('CreateSpace', {
      space,
      dimension: options.dimension ?? 0,
      primary: options.primary ?? '',
      replicas: options.replicas ?? [],
      copies: options.copies,
    }, call);
  }

  store(space: string, batch: { memories?: MemoryRecord[]; associations?: AssociationRecord[]; ack?: AckLevel }, call?: CallOptions) {
    return this.#call<{ memories: number; associations: number; copies: number; logPosition: number }>('Store', {
      space,
      memories: (batch.memories ?? []).map((m) => ({ ...m, embedding: Array.from(m.embedding) })),
      associations: batch.associations ?? [],
      ack: `ACK_LEVEL_${(batch.ack ?? 'quorum').toUpperCase()}`,
    }, call);
  }

  /** Runs a query; the result is of the query's kind (`{ kind: 'recall', … }` gives a recall result). */
  async query<Q extends Query>(query: Q, options: QueryOptions = {}, call?: CallOptions): Promise<ResultOf<Q['kind']>> {
    const res = await this.#call<Parameters<typeof resultFromWire>[0]>('ExecuteQuery', { query: queryToWire(query), options: optionsToWire(options) }, call);
    const result = resultFromWire(res);
    if (result.kind !== query.kind) throw new EngramRpcError(grpc.status.INTERNAL, `the node answered a ${query.kind} query with a ${result.kind} result`);
    return result as ResultOf<Q['kind']>;
  }

  /** The status of whichever node answers (the last one that did, first). */
  status(call?: CallOptions): Promise<NodeStatus> {
    return this.#call<NodeStatus>('Status', {}, call);
  }

  /** Cancels the calls in flight (they reject), closes every channel; later calls reject. */
  close(): void {
    this.#closed = true;
    for (const call of this.#inFlight) call.cancel();
    this.#inFlight.clear();
    for (const c of this.#clients) c?.close();
  }
}

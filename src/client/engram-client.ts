/**
 * A promise client of the public `Engram` service over a list of nodes (DESIGN §8).
 *
 * Routing (`routing: 'owner'`, the default): a call that reads or writes one space (a Recall,
 * Spread, Complete or Consolidate query, an Imagine over one space, a Store) goes straight to a
 * node that holds a copy of that space, which answers from its own copy with no coordinator hop.
 * The client learns where the copies are from the placement table in a node's Status
 * (placement-cache.ts says when it asks, copy-choice.ts which copy a call tries). Everything else
 * (CreateSpace, Status, an Imagine over several spaces), a space the table does not place, and a
 * call whose copies all failed go to the configured nodes, which coordinate. `routing: 'any'`
 * sends every call to the configured nodes.
 *
 * Failover: a call that is not routed goes to the configured node that answered last (the first
 * one at the start); every call fails over to the next node on UNAVAILABLE: the node could not be
 * reached, or it answered with an error that another node may not have (its primary unreachable
 * from there, or it is stopping). One deadline covers every node a call tries; an AbortSignal
 * cancels the call on the wire. Failures come back as the typed classes of src/errors.ts, with
 * the coverage a query error carries.
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
import { AbortError, DeadlineExceededError, EngramRpcError, NodeUnavailableError, type EngramError } from '../errors.js';
import { fromGrpcError, typedErrorOf } from '../wire/grpc-errors.js';
import { Deadline } from '../query/deadline.js';
import { resultFromWire } from '../query/result-wire.js';
import type { ResultOf } from '../query/result.js';
import { optionsToWire, queryToWire } from '../query/to-wire.js';
import type { Query, QueryOptions } from '../query/types.js';
import { channelCredentials } from '../security/credentials.js';
import { LEAN_CHANNEL_OPTIONS, protos } from '../wire/proto.js';
import { checkMs, parseClientOptions, type CallOptions, type EngramClientOptions, type RoutingMode } from './client-options.js';
import { orderCopies } from './copy-choice.js';
import type { NodeStatus } from './node-status.js';
import { PlacementCache } from './placement-cache.js';
import type { PlacementTable } from './placement-table.js';

export { DEFAULT_CLIENT_DEADLINE_MS, DEFAULT_TABLE_REFRESH_MS, type CallOptions, type EngramClientOptions, type RoutingMode } from './client-options.js';
export type { AssignmentStatus, MemberStatus, MetaStatus, NodeStatus, SpaceGroupStatus, SpaceStatus } from './node-status.js';

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

type AnyClient = grpc.Client & Record<string, Function>;

/** A call that reads or writes one space, and so can go straight to a copy of it. */
interface Route {
  space: string;
  /** It wants the space group's leader (Consolidate, Store, a `leader` read): the table's primary first. */
  leader: boolean;
}

/** One node a call may try. */
interface Target {
  address: string;
  /** Its index in the configured list, when it is there. */
  configured: number | undefined;
  /** Chosen from the placement table as a copy holder. */
  routed: boolean;
}

/**
 * The one space a query reads, when it reads one. Consolidate runs on the space's leader, and a
 * `leader` read asks the leader for its commit index: both go to the primary first.
 */
function routeOf(query: Query, options: QueryOptions): Route | undefined {
  const space = query.kind === 'imagine' ? (Array.isArray(query.spaces) && query.spaces.length === 1 ? query.spaces[0] : undefined) : query.space;
  // A malformed query goes to a configured node, whose answer names what is wrong with it.
  return typeof space === 'string' && space !== '' ? { space, leader: query.kind === 'consolidate' || options.consistency === 'leader' } : undefined;
}

export class EngramClient {
  /** The nodes this client calls, in the order it tries them. */
  readonly nodes: readonly string[];
  /** Where calls go: see RoutingMode. */
  readonly routing: RoutingMode;
  readonly #deadlineMs: number;
  readonly #credentials: grpc.ChannelCredentials;
  /** The `token` option as call metadata (empty without one). */
  readonly #metadata: grpc.Metadata;
  /** One channel per address, opened on first use: the configured nodes and the copy holders routed to. */
  readonly #clients = new Map<string, AnyClient>();
  /** Calls in flight from this client, per address (copy choice prefers the least busy copy). */
  readonly #busy = new Map<string, number>();
  readonly #placement: PlacementCache;
  /** Breaks ties between equally busy copies in turn. */
  #turn = 0;
  /** The configured node that answered last: calls that are not routed start there. */
  #preferred = 0;
  #closed = false;
  /** Calls on the wire, cancelled by close(). */
  readonly #inFlight = new Set<grpc.ClientUnaryCall>();

  constructor(options: EngramClientOptions) {
    const settings = parseClientOptions(options);
    this.nodes = settings.nodes;
    this.routing = settings.routing;
    this.#deadlineMs = settings.deadlineMs;
    this.#credentials = channelCredentials(settings.tls);
    this.#metadata = new grpc.Metadata();
    if (settings.token !== undefined) this.#metadata.set('authorization', `Bearer ${settings.token}`);
    this.#placement = new PlacementCache({
      refreshMs: settings.tableRefreshMs,
      fetch: (deadlineMs, signal) => this.#call<NodeStatus>('Status', {}, { deadlineMs, ...(signal ? { signal } : {}) }),
      onTable: (table) => this.#closeChannelsOutside(table),
    });
  }

  #client(address: string): AnyClient {
    // A call failing over after close() must not open a channel nobody would close.
    if (this.#closed) throw new EngramRpcError(grpc.status.CANCELLED, 'the client is closed');
    let client = this.#clients.get(address);
    if (!client) {
      client = new (protos().PublicClient)(address, this.#credentials, { ...LEAN_CHANNEL_OPTIONS }) as AnyClient;
      this.#clients.set(address, client);
    }
    return client;
  }

  /** Closes the idle channels to members no longer in the table (nor configured). */
  #closeChannelsOutside(table: PlacementTable): void {
    const members = table.addresses();
    for (const [address, client] of this.#clients) {
      if (this.nodes.includes(address) || members.has(address) || this.#busy.has(address)) continue;
      client.close();
      this.#clients.delete(address);
    }
  }

  /** The nodes one call tries, in order: copies of its space first (when routed), then the configured nodes. */
  async #targets(route: Route | undefined, deadline: Deadline, signal: AbortSignal | undefined): Promise<Target[]> {
    const targets: Target[] = [];
    if (route && this.routing === 'owner') {
      // Learning the table takes at most half of what is left: the call keeps the rest.
      const table = await this.#placement.current(deadline.remainingMs() / 2, signal);
      const copies = table
        ? orderCopies(table.copies(route.space), {
          leader: route.leader,
          inFlight: (address) => this.#busy.get(address) ?? 0,
          avoid: (address) => this.#placement.avoided(address),
          turn: this.#turn++,
        })
        : [];
      for (const { address } of copies) {
        const index = this.nodes.indexOf(address);
        targets.push({ address, configured: index < 0 ? undefined : index, routed: true });
      }
    }
    for (let i = 0; i < this.nodes.length; i++) {
      const index = (this.#preferred + i) % this.nodes.length;
      const address = this.nodes[index]!;
      if (!targets.some((t) => t.address === address)) targets.push({ address, configured: index, routed: false });
    }
    return targets;
  }

  /** One call, routed to a copy holder when it can be, failing over across nodes within one deadline. */
  async #call<T>(method: string, request: unknown, options: CallOptions = {}, route?: Route): Promise<T> {
    const deadlineMs = options.deadlineMs === undefined ? this.#deadlineMs : checkMs('deadlineMs', options.deadlineMs);
    const { signal } = options;
    if (this.#closed) throw new EngramRpcError(grpc.status.CANCELLED, `${method}: the client is closed`);
    if (signal?.aborted) throw new AbortError(`${method} aborted before it was sent`, { cause: signal.reason });
    const deadline = new Deadline(deadlineMs);
    const targets = await this.#targets(route, deadline, signal);
    if (signal?.aborted) throw new AbortError(`${method} aborted`, { cause: signal.reason });
    // A node's own answer says more than a connection that failed: it wins if nothing succeeds.
    let answered: EngramError | undefined;
    const unreachable: string[] = [];
    let lastFailure: unknown;
    for (const target of targets) {
      if (deadline.expired()) break;
      if (this.#closed) throw new EngramRpcError(grpc.status.CANCELLED, `${method}: the client is closed`);
      try {
        const res = await this.#attempt<T>(target.address, method, request, deadline, signal);
        if (target.configured !== undefined) this.#preferred = target.configured;
        return res;
      } catch (raw) {
        if (signal?.aborted) throw new AbortError(`${method} aborted`, { cause: signal.reason });
        if (this.#closed) throw new EngramRpcError(grpc.status.CANCELLED, `${method}: the client was closed`, { cause: raw });
        const err = raw as grpc.ServiceError;
        const typed = typedErrorOf(err);
        if (typed ? !typed.retryable : err.code !== grpc.status.UNAVAILABLE) {
          if (typed) throw typed;
          if (err.code === grpc.status.DEADLINE_EXCEEDED) throw new DeadlineExceededError(method, deadlineMs, { cause: err });
          throw fromGrpcError(err);
        }
        // Another node may succeed. A copy holder that failed is left out for a while, and the
        // table asked for again: the copy may have moved or its node gone.
        if (target.routed) this.#placement.failed(target.address, deadline.remainingMs());
        if (typed) {
          answered = typed;
        } else {
          // Only configured addresses are named: NodeUnavailableError never names a learnt one.
          if (target.configured !== undefined) unreachable.push(target.address);
          lastFailure = err;
        }
      }
    }
    if (answered) throw answered;
    if (unreachable.length > 0) throw new NodeUnavailableError(unreachable, { cause: lastFailure });
    throw new DeadlineExceededError(method, deadlineMs);
  }

  /** One call to one node; `signal` cancels it on the wire. Rejects with the grpc-js ServiceError. */
  #attempt<T>(address: string, method: string, request: unknown, deadline: Deadline, signal: AbortSignal | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const client = this.#client(address);
      const onAbort = () => call.cancel();
      const call = client[method]!(request, this.#metadata.clone(), { deadline: deadline.wallClock() }, (err: grpc.ServiceError | null, res: T) => {
        signal?.removeEventListener('abort', onAbort);
        this.#inFlight.delete(call);
        const busy = (this.#busy.get(address) ?? 1) - 1;
        if (busy > 0) this.#busy.set(address, busy);
        else this.#busy.delete(address);
        if (err) reject(err);
        else resolve(res);
      }) as grpc.ClientUnaryCall;
      // Counted once on the wire (the callback runs later): a request that fails to encode is never counted.
      this.#busy.set(address, (this.#busy.get(address) ?? 0) + 1);
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

  /**
   * Stores a batch in `space`. Routed to the space's primary, the hint for its group's leader: a
   * hop saved when it leads; any other copy or node forwards the write to the leader.
   */
  store(space: string, batch: { memories?: MemoryRecord[]; associations?: AssociationRecord[]; ack?: AckLevel }, call?: CallOptions) {
    return this.#call<{ memories: number; associations: number; copies: number; logPosition: number }>('Store', {
      space,
      memories: (batch.memories ?? []).map((m) => ({ ...m, embedding: Array.from(m.embedding) })),
      associations: batch.associations ?? [],
      ack: `ACK_LEVEL_${(batch.ack ?? 'quorum').toUpperCase()}`,
    }, call, typeof space === 'string' && space !== '' ? { space, leader: true } : undefined);
  }

  /**
   * Runs a query; the result is of the query's kind (`{ kind: 'recall', … }` gives a recall
   * result). A query of one space goes to a copy of it (Consolidate and `consistency: 'leader'`:
   * the primary first).
   */
  async query<Q extends Query>(query: Q, options: QueryOptions = {}, call?: CallOptions): Promise<ResultOf<Q['kind']>> {
    const res = await this.#call<Parameters<typeof resultFromWire>[0]>('ExecuteQuery', { query: queryToWire(query), options: optionsToWire(options) }, call, routeOf(query, options));
    const result = resultFromWire(res);
    if (result.kind !== query.kind) throw new EngramRpcError(grpc.status.INTERNAL, `the node answered a ${query.kind} query with a ${result.kind} result`);
    return result as ResultOf<Q['kind']>;
  }

  /** The status of whichever configured node answers (the last one that did, first). Its placement table is kept for routing. */
  async status(call?: CallOptions): Promise<NodeStatus> {
    const status = await this.#call<NodeStatus>('Status', {}, call);
    if (this.routing === 'owner') this.#placement.learn(status);
    return status;
  }

  /** Cancels the calls in flight (they reject), closes every channel (those to learnt copy holders too); later calls reject. */
  close(): void {
    this.#closed = true;
    for (const call of this.#inFlight) call.cancel();
    this.#inFlight.clear();
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}

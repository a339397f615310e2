/**
 * Every public error of the package, in one place (after nats.js). Each class declares:
 * - `code`: stable, what callers compare (instances carry it too);
 * - `grpcStatus`: the status it travels as (src/wire/grpc-errors.ts reads it, in both directions);
 * - `retryable`: whether another node, or this one later, may succeed at the same request;
 * - `wireFields`: the typed fields sent with it, so the caller's copy has them too.
 * An error that crosses the wire comes back as the same class (`errorClassFor` its code), with
 * its message, those fields and the coverage. A subclass that shares its parent's code travels
 * as the parent (RemoteInvalidArgumentError is an InvalidArgumentError to the node's caller).
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Coverage } from './query/coverage.js';

/** What the wire mapping needs to know of an error class. */
export interface EngramErrorClass {
  readonly prototype: EngramError;
  readonly name: string;
  readonly code: string;
  readonly grpcStatus: GrpcStatus;
  readonly retryable: boolean;
  readonly wireFields: readonly string[];
}

/** Base of every error this package throws. */
export class EngramError extends Error {
  static readonly code: string = 'ERR_ENGRAM';
  /** Default INTERNAL: a fault of the node, not of the request. */
  static readonly grpcStatus: GrpcStatus = GrpcStatus.INTERNAL;
  /** Whether the same request may succeed on another node (or later): clients fail over on it. */
  static readonly retryable: boolean = false;
  /** Own fields sent with the error to a remote caller (plain JSON values only). */
  static readonly wireFields: readonly string[] = [];

  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  /** The gRPC status this error travels as (its class's). */
  get grpcStatus(): GrpcStatus {
    return (this.constructor as unknown as EngramErrorClass).grpcStatus;
  }

  get retryable(): boolean {
    return (this.constructor as unknown as EngramErrorClass).retryable;
  }
}

// ---- The request ----

/** A request field has a bad value; `field` names it, `value` is what was given. */
export class InvalidArgumentError extends EngramError {
  static override readonly code = 'ERR_INVALID_ARGUMENT';
  static override readonly grpcStatus = GrpcStatus.INVALID_ARGUMENT;
  static override readonly wireFields = ['field', 'value'];
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, reason: string) {
    super(InvalidArgumentError.code, `${field}: ${reason} (got ${describe(value)})`);
    this.field = field;
    this.value = value;
  }
}

/**
 * A remote copy refused a partition request as invalid: every copy would, so the query fails. To
 * the node's own caller it is an InvalidArgumentError (same code); `node` stays on this side.
 */
export class RemoteInvalidArgumentError extends InvalidArgumentError {
  readonly node: string;
  constructor(node: string, details: string) {
    super('', undefined, details);
    // The remote node's message as it is: it already names the field.
    this.message = details;
    this.node = node;
  }
}

/** The memory space does not exist (on this node, or anywhere in the cluster). */
export class SpaceNotFoundError extends EngramError {
  static override readonly code = 'ERR_SPACE_NOT_FOUND';
  static override readonly grpcStatus = GrpcStatus.NOT_FOUND;
  static override readonly wireFields = ['space'];
  readonly space: string;
  constructor(space: string) {
    super(SpaceNotFoundError.code, `memory space "${space}" does not exist`);
    this.space = space;
  }
}

/** A space with this id exists already with another dimension. */
export class SpaceConflictError extends EngramError {
  static override readonly code = 'ERR_SPACE_CONFLICT';
  static override readonly grpcStatus = GrpcStatus.ALREADY_EXISTS;
  static override readonly wireFields = ['space'];
  readonly space: string;
  constructor(space: string, message: string) {
    super(SpaceConflictError.code, message);
    this.space = space;
  }
}

/** The operation was cancelled through its AbortSignal (or its caller cancelled the call). */
export class AbortError extends EngramError {
  static override readonly code = 'ERR_ABORTED';
  static override readonly grpcStatus = GrpcStatus.CANCELLED;
  constructor(message = 'the operation was aborted', options?: { cause?: unknown }) {
    super(AbortError.code, message, options);
  }
}

/** A call's deadline passed before an answer came. */
export class DeadlineExceededError extends EngramError {
  static override readonly code = 'ERR_DEADLINE_EXCEEDED';
  static override readonly grpcStatus = GrpcStatus.DEADLINE_EXCEEDED;
  static override readonly wireFields = ['deadlineMs'];
  /** The deadline that passed, ms. */
  readonly deadlineMs: number;
  constructor(what: string, deadlineMs: number, options?: { cause?: unknown }) {
    super(DeadlineExceededError.code, `${what}: no answer within the deadline of ${deadlineMs} ms`, options);
    this.deadlineMs = deadlineMs;
  }
}

// ---- Queries: coverage ----

/** Nothing answered: every expected partition failed. Carries the coverage, never an empty success. */
export class AllPartitionsFailedError extends EngramError {
  static override readonly code = 'ERR_ALL_PARTITIONS_FAILED';
  static override readonly grpcStatus = GrpcStatus.UNAVAILABLE;
  readonly coverage: Coverage;
  constructor(coverage: Coverage) {
    const reasons = coverage.partitions.map((p) => `${p.partition}: ${p.status}${p.reason ? ` (${p.reason})` : ''}`).join('; ');
    super(AllPartitionsFailedError.code, `no partition answered (${coverage.expected} expected): ${reasons}`);
    this.coverage = coverage;
  }
}

/**
 * The query's deadline (its `timeoutMs` or the caller's own, whichever came first) passed before
 * any partition answered. Carries the coverage: which copies were asked and how far they got.
 */
export class QueryDeadlineExceededError extends EngramError {
  static override readonly code = 'ERR_QUERY_DEADLINE_EXCEEDED';
  static override readonly grpcStatus = GrpcStatus.DEADLINE_EXCEEDED;
  static override readonly wireFields = ['deadlineMs'];
  readonly coverage: Coverage;
  /** The query's budget that ran out, ms. */
  readonly deadlineMs: number;
  constructor(coverage: Coverage, deadlineMs: number) {
    super(QueryDeadlineExceededError.code, `no partition answered within the query's deadline of ${Math.round(deadlineMs)} ms (${coverage.expected} expected, ${coverage.timedOut} timed out)`);
    this.coverage = coverage;
    this.deadlineMs = deadlineMs;
  }
}

/** Some partitions did not answer and the caller asked for full coverage (or more than was had). */
export class InsufficientCoverageError extends EngramError {
  static override readonly code = 'ERR_INSUFFICIENT_COVERAGE';
  static override readonly grpcStatus = GrpcStatus.UNAVAILABLE;
  static override readonly wireFields = ['missing'];
  readonly coverage: Coverage;
  readonly missing: string[];
  constructor(coverage: Coverage, required: string) {
    const missing = coverage.partitions.filter((p) => p.status !== 'ok').map((p) => p.partition);
    super(InsufficientCoverageError.code, `${coverage.responding} of ${coverage.expected} partitions answered, ${required}; missing: ${missing.join(', ')}`);
    this.coverage = coverage;
    this.missing = missing;
  }
}

// ---- Nodes and the cluster ----

/** The client reached none of its nodes: each refused the connection or could not be reached. */
export class NodeUnavailableError extends EngramError {
  static override readonly code = 'ERR_NODE_UNAVAILABLE';
  static override readonly grpcStatus = GrpcStatus.UNAVAILABLE;
  static override readonly retryable = true;
  static override readonly wireFields = ['nodes'];
  /** The addresses tried (the client's own list, never learnt from a node). */
  readonly nodes: string[];
  constructor(nodes: string[], options?: { cause?: unknown }) {
    super(NodeUnavailableError.code, `no node could be reached (tried ${nodes.join(', ')})`, options);
    this.nodes = nodes;
  }
}

/**
 * This node holds a copy of the space but does not lead its Raft group: a write forwarded to it
 * (hop limit 1) is not proposed and not sent on. Retryable: nothing was written; `leader` names
 * the copy this node believes leads (empty when it knows none), where the caller may try next.
 */
export class NotSpaceLeaderError extends EngramError {
  static override readonly code = 'ERR_NOT_SPACE_LEADER';
  static override readonly grpcStatus = GrpcStatus.UNAVAILABLE;
  static override readonly retryable = true;
  static override readonly wireFields = ['space', 'leader'];
  readonly space: string;
  /** Node id of the leader this node knows of, or ''. */
  readonly leader: string;
  constructor(space: string, leader: string) {
    super(NotSpaceLeaderError.code, `memory space "${space}": this node does not lead its group${leader ? `; the leader is ${leader}` : '; no leader is known'}`);
    this.space = space;
    this.leader = leader;
  }
}

/**
 * No leader of the space's group took the write before the deadline: none elected yet (a leader
 * died and the election is under way), or none reachable from here. Nothing was written.
 * Retryable: the next attempt may find the new leader.
 */
export class WriteUnavailableError extends EngramError {
  static override readonly code = 'ERR_WRITE_UNAVAILABLE';
  static override readonly grpcStatus = GrpcStatus.UNAVAILABLE;
  static override readonly retryable = true;
  static override readonly wireFields = ['space', 'reason'];
  readonly space: string;
  /** What the last attempt found, e.g. "no leader elected", "leader n2 unreachable". */
  readonly reason: string;
  constructor(space: string, reason: string) {
    super(WriteUnavailableError.code, `memory space "${space}": no leader took the write (${reason})`);
    this.space = space;
    this.reason = reason;
  }
}

/**
 * The write was proposed but its fate is not known at the deadline: it may still commit (a
 * leader that lost its majority cannot commit it; a new leader may). Never an acknowledgement.
 * A store is idempotent by memory id, so sending it again is safe.
 */
export class WriteOutcomeUnknownError extends EngramError {
  static override readonly code = 'ERR_WRITE_OUTCOME_UNKNOWN';
  static override readonly grpcStatus = GrpcStatus.DEADLINE_EXCEEDED;
  static override readonly retryable = true;
  static override readonly wireFields = ['space'];
  readonly space: string;
  constructor(space: string, why: string) {
    super(WriteOutcomeUnknownError.code, `memory space "${space}": the write was proposed but not committed in time (${why}); it may still be applied`);
    this.space = space;
  }
}

/**
 * A `consistency: leader` read: this copy could not learn its group leader's commit index (no
 * leader reachable) or did not apply that far in time. Retryable: another copy may.
 */
export class ConsistencyUnavailableError extends EngramError {
  static override readonly code = 'ERR_CONSISTENCY_UNAVAILABLE';
  static override readonly grpcStatus = GrpcStatus.UNAVAILABLE;
  static override readonly retryable = true;
  static override readonly wireFields = ['space'];
  readonly space: string;
  constructor(space: string, why: string) {
    super(ConsistencyUnavailableError.code, `memory space "${space}": a leader-consistent read is not possible on this copy now (${why})`);
    this.space = space;
  }
}

/**
 * `ack: all`: the write is committed (durable on a majority of the copies) but fewer copies than
 * the group's voters applied it before the deadline; the others apply it when they catch up.
 */
export class ReplicationTimeoutError extends EngramError {
  static override readonly code = 'ERR_REPLICATION_TIMEOUT';
  static override readonly grpcStatus = GrpcStatus.DEADLINE_EXCEEDED;
  static override readonly wireFields = ['space', 'required', 'achieved', 'position'];
  readonly space: string;
  readonly required: number;
  readonly achieved: number;
  /** Raft index of the write in the space's group. */
  readonly position: number;
  constructor(space: string, required: number, achieved: number, position: number) {
    super(
      ReplicationTimeoutError.code,
      `memory space "${space}": the write at index ${position} is committed, but applied on ${achieved} of the ${required} copies asked for in time; the others apply it when they catch up`,
    );
    this.space = space;
    this.required = required;
    this.achieved = achieved;
    this.position = position;
  }
}

/**
 * This node cannot reach a majority of the metadata group's voters, so it cannot create or place
 * spaces (its table would fork from the majority's); it still answers queries from its copy of
 * the committed table. Retryable: a node on the majority side can take the same request.
 */
export class MetadataUnavailableError extends EngramError {
  static override readonly code = 'ERR_METADATA_UNAVAILABLE';
  static override readonly grpcStatus = GrpcStatus.UNAVAILABLE;
  static override readonly retryable = true;
  static override readonly wireFields = ['reachable', 'total'];
  /** Voters of the metadata group this node reaches, itself included when it is one. */
  readonly reachable: number;
  /** Voters of the metadata group. */
  readonly total: number;
  /** `operation`, when given, prefixes the message (`create memory space "x"`). */
  constructor(reachable: number, total: number, operation?: string) {
    const text = `no metadata quorum: ${reachable} of ${total} voters reachable`;
    super(MetadataUnavailableError.code, operation ? `${operation}: ${text}` : text);
    this.reachable = reachable;
    this.total = total;
  }
}

/**
 * A node of another cluster asked to join this one (same cluster key, another cluster id: its
 * data directory belongs elsewhere, or `--cluster-id` named another cluster). Nothing changed;
 * the joiner does not start, as Cassandra refuses a node whose cluster name differs.
 */
export class ClusterMismatchError extends EngramError {
  static override readonly code = 'ERR_CLUSTER_MISMATCH';
  static override readonly grpcStatus = GrpcStatus.FAILED_PRECONDITION;
  constructor(message: string) {
    super(ClusterMismatchError.code, message);
  }
}

/** Why a receiver refused a Raft stream after authenticating it. */
export type RaftPeerRefusal = 'cluster_mismatch' | 'node_mismatch';

/**
 * A Raft batch from a node of another cluster (same key, other cluster id), or one whose sender
 * is not the node its tag was made for. Nothing of it was stepped.
 */
export class RaftPeerRefusedError extends EngramError {
  static override readonly code = 'ERR_RAFT_PEER_REFUSED';
  static override readonly grpcStatus = GrpcStatus.PERMISSION_DENIED;
  // The receiver's own cluster id stays on the receiver: a stranger learns only that it was refused.
  static override readonly wireFields = ['reason'];
  readonly reason: RaftPeerRefusal;
  constructor(reason: RaftPeerRefusal, message: string) {
    super(RaftPeerRefusedError.code, message);
    this.reason = reason;
  }
}

/** The receiving Raft transport is closed or not yet attached to its host; the sender retries later. */
export class RaftTransportClosedError extends EngramError {
  static override readonly code = 'ERR_RAFT_TRANSPORT_CLOSED';
  static override readonly grpcStatus = GrpcStatus.UNAVAILABLE;
  static override readonly retryable = true;
  constructor(why: string) {
    super(RaftTransportClosedError.code, `Raft transport: ${why}`);
  }
}

/** This call needs a node that runs in a cluster (with --gossip). */
export class NotInClusterError extends EngramError {
  static override readonly code = 'ERR_NOT_IN_CLUSTER';
  static override readonly grpcStatus = GrpcStatus.FAILED_PRECONDITION;
  constructor(what: string) {
    super(NotInClusterError.code, `${what}: this node runs without a cluster (start it with --gossip)`);
  }
}

/** Why an internal call was refused; the label of the refusal counter. */
export type AuthFailureReason = 'no_client_certificate' | 'missing_tag' | 'bad_tag' | 'stale_tag' | 'replayed_tag' | 'other_cluster';

/** An internal call from a caller that did not prove it belongs to the cluster. */
export class UnauthenticatedError extends EngramError {
  static override readonly code = 'ERR_UNAUTHENTICATED';
  static override readonly grpcStatus = GrpcStatus.UNAUTHENTICATED;
  static override readonly wireFields = ['reason'];
  readonly reason: AuthFailureReason;
  constructor(reason: AuthFailureReason, message: string) {
    super(UnauthenticatedError.code, message);
    this.reason = reason;
  }
}

/** A client role of `--client-tokens`: admin may do what write may, write what read may. */
export type ClientRole = 'read' | 'write' | 'admin';

/**
 * A public call without a known bearer token on a node started with `--client-tokens` (no
 * `authorization` header, or a token the node does not know). `method` names the call.
 */
export class ClientUnauthenticatedError extends EngramError {
  static override readonly code = 'ERR_CLIENT_UNAUTHENTICATED';
  static override readonly grpcStatus = GrpcStatus.UNAUTHENTICATED;
  static override readonly wireFields = ['method'];
  readonly method: string;
  constructor(method: string, reason: string) {
    super(ClientUnauthenticatedError.code, `${method}: ${reason}`);
    this.method = method;
  }
}

/** A known client token whose role is below what the call needs (`required`; the token has `role`). */
export class PermissionDeniedError extends EngramError {
  static override readonly code = 'ERR_PERMISSION_DENIED';
  static override readonly grpcStatus = GrpcStatus.PERMISSION_DENIED;
  static override readonly wireFields = ['method', 'required', 'role'];
  readonly method: string;
  readonly required: ClientRole;
  readonly role: ClientRole;
  constructor(method: string, required: ClientRole, role: ClientRole) {
    super(PermissionDeniedError.code, `${method} needs a ${required} token; this token's role is ${role}`);
    this.method = method;
    this.required = required;
    this.role = role;
  }
}

/** A caller that may not use the fault switch (disabled, or not on loopback). */
export class FaultSwitchRefusedError extends EngramError {
  static override readonly code = 'ERR_FAULTS_DISABLED';
  static override readonly grpcStatus = GrpcStatus.PERMISSION_DENIED;
  constructor(reason: string) {
    super(FaultSwitchRefusedError.code, `SetFault refused: ${reason}`);
  }
}

/** The engine was closed (the node is stopping); no more reads or writes. */
export class EngineClosedError extends EngramError {
  static override readonly code = 'ERR_ENGINE_CLOSED';
  static override readonly grpcStatus = GrpcStatus.UNAVAILABLE;
  static override readonly retryable = true;
  constructor() {
    super(EngineClosedError.code, 'the engine is closed');
  }
}

/**
 * The node is starting: its engine is open but it has not yet joined its cluster and applied the
 * cluster's table, so it does not serve data yet (another node can).
 */
export class NodeStartingError extends EngramError {
  static override readonly code = 'ERR_NODE_STARTING';
  static override readonly grpcStatus = GrpcStatus.UNAVAILABLE;
  static override readonly retryable = true;
  constructor(what: string) {
    super(NodeStartingError.code, `${what}: this node is starting (it serves once it has joined its cluster)`);
  }
}

// ---- Node-to-node calls ----

/**
 * The address failed at the transport level a moment ago and is waiting out its backoff, so the
 * call was refused without touching the network. Retryable: the scatter should move on to the
 * partition's next copy at once.
 */
export class ConnectionBackoffError extends EngramError {
  static override readonly code = 'ERR_CONNECTION_BACKOFF';
  static override readonly grpcStatus = GrpcStatus.UNAVAILABLE;
  static override readonly retryable = true;
  // Not `address`: a node's address stays on the node.
  static override readonly wireFields = ['retryInMs'];
  readonly address: string;
  /** ms until the address is dialled again. */
  readonly retryInMs: number;
  constructor(address: string, retryInMs: number, cause?: unknown) {
    super(ConnectionBackoffError.code, `${address}: connection failed recently; next dial in ${Math.ceil(retryInMs)} ms`, { cause });
    this.address = address;
    this.retryInMs = retryInMs;
  }
}

/** The connection pool was closed (the node is stopping); it makes no more calls. */
export class PoolClosedError extends EngramError {
  static override readonly code = 'ERR_POOL_CLOSED';
  static override readonly grpcStatus = GrpcStatus.UNAVAILABLE;
  static override readonly retryable = true;
  constructor() {
    super(PoolClosedError.code, 'the connection pool is closed');
  }
}

/**
 * A copy answered with a PartitionResult that is not one: a fault of that copy (a bug, or
 * mismatched versions), not of the request, so the scatter counts it as a failed copy (and may
 * ask another) instead of failing the query the way an invalid argument would.
 */
export class MalformedPartitionResultError extends EngramError {
  static override readonly code = 'ERR_MALFORMED_ANSWER';
  static override readonly grpcStatus = GrpcStatus.INTERNAL;
  constructor(message: string) {
    super(MalformedPartitionResultError.code, `malformed answer: ${message}`);
  }
}

/**
 * A node answered with an error this client cannot type: no engram code (e.g. grpc-js's own
 * RESOURCE_EXHAUSTED), or a code it does not know (a newer node).
 */
export class EngramRpcError extends EngramError {
  static override readonly code = 'ERR_RPC';
  static override readonly wireFields = ['status', 'engramCode'];
  /** The gRPC status the node sent. */
  readonly status: GrpcStatus;
  /** The engram code the node sent, if any. */
  readonly engramCode: string | undefined;
  /** The coverage, when the node sent one. */
  readonly coverage: Coverage | undefined;
  constructor(status: GrpcStatus, message: string, options: { engramCode?: string; coverage?: Coverage; cause?: unknown } = {}) {
    super(EngramRpcError.code, message, { cause: options.cause });
    this.status = status;
    this.engramCode = options.engramCode;
    this.coverage = options.coverage;
  }

  override get grpcStatus(): GrpcStatus {
    return this.status;
  }
}

// ---- Configuration and internals ----

/** Bad configuration (options, environment variables, command-line flags). */
export class ConfigError extends EngramError {
  static override readonly code = 'ERR_CONFIG';
  // Met inside a request only through the node's own settings: the node's fault.
  static override readonly grpcStatus = GrpcStatus.INTERNAL;
  static override readonly wireFields = ['setting'];
  readonly setting: string;
  constructor(setting: string, message: string) {
    super(ConfigError.code, `${setting}: ${message}`);
    this.setting = setting;
  }
}

/** ENGRAM_NATIVE=required and the addon could not be loaded. */
export class NativeUnavailableError extends EngramError {
  static override readonly code = 'ERR_NATIVE_UNAVAILABLE';
  static override readonly grpcStatus = GrpcStatus.INTERNAL;
  constructor(message: string, cause: unknown) {
    super(NativeUnavailableError.code, message, { cause });
  }
}

/** A caller handed the gather something no partition could have sent (a programming error). */
export class GatherInputError extends EngramError {
  static override readonly code = 'ERR_GATHER_INPUT';
  static override readonly grpcStatus = GrpcStatus.INTERNAL;
  constructor(message: string) {
    super(GatherInputError.code, message);
  }
}

/** A space's log on disk is damaged beyond its torn tail. */
export class StorageError extends EngramError {
  static override readonly code = 'ERR_STORAGE';
  static override readonly grpcStatus = GrpcStatus.DATA_LOSS;
  static override readonly wireFields = ['path'];
  readonly path: string;
  constructor(path: string, message: string, cause?: unknown) {
    super(StorageError.code, `${path}: ${message}`, { cause });
    this.path = path;
  }
}

/**
 * The data directory's filesystem has less free space than the node's floor (`--min-free-disk`):
 * the write is refused before anything is logged (nothing stored is lost; reads go on), and
 * writes succeed again once space is freed.
 */
export class DiskFullError extends EngramError {
  static override readonly code = 'ERR_DISK_FULL';
  static override readonly grpcStatus = GrpcStatus.RESOURCE_EXHAUSTED;
  static override readonly wireFields = ['freeBytes', 'floorBytes'];
  readonly freeBytes: number;
  readonly floorBytes: number;
  constructor(path: string, freeBytes: number, floorBytes: number) {
    super(DiskFullError.code, `writes refused: ${path} has ${freeBytes} bytes free, below the floor of ${floorBytes} (--min-free-disk); writes resume once space is freed`);
    this.freeBytes = freeBytes;
    this.floorBytes = floorBytes;
  }
}

/**
 * CreateSpace of a new space when the cluster already holds `maxSpaces` (`--max-spaces`): each
 * space holds a log, a Raft group and file handles for life, so their number is capped.
 */
export class TooManySpacesError extends EngramError {
  static override readonly code = 'ERR_TOO_MANY_SPACES';
  static override readonly grpcStatus = GrpcStatus.RESOURCE_EXHAUSTED;
  static override readonly wireFields = ['space', 'maxSpaces'];
  readonly space: string;
  readonly maxSpaces: number;
  constructor(space: string, maxSpaces: number) {
    super(TooManySpacesError.code, `create memory space "${space}": the cluster holds its cap of ${maxSpaces} spaces (--max-spaces)`);
    this.space = space;
    this.maxSpaces = maxSpaces;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 80 ? `a string of ${value.length} characters` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value;
}

// ---- The registry: code → class, for rebuilding errors received from another process ----

const CLASSES: readonly EngramErrorClass[] = [
  InvalidArgumentError, SpaceNotFoundError, SpaceConflictError, AbortError, DeadlineExceededError,
  AllPartitionsFailedError, InsufficientCoverageError, QueryDeadlineExceededError,
  NodeUnavailableError, NotSpaceLeaderError, WriteUnavailableError, WriteOutcomeUnknownError, ReplicationTimeoutError, ConsistencyUnavailableError,
  MetadataUnavailableError, ClusterMismatchError, RaftPeerRefusedError, RaftTransportClosedError, NotInClusterError, UnauthenticatedError, ClientUnauthenticatedError, PermissionDeniedError, FaultSwitchRefusedError, EngineClosedError, NodeStartingError,
  ConnectionBackoffError, PoolClosedError, MalformedPartitionResultError, EngramRpcError,
  ConfigError, NativeUnavailableError, GatherInputError, StorageError, DiskFullError, TooManySpacesError,
];

const BY_CODE = new Map(CLASSES.map((c) => [c.code, c]));

/** The class an error with this code is rebuilt as; undefined for a code this version does not know. */
export function errorClassFor(code: string): EngramErrorClass | undefined {
  return BY_CODE.get(code);
}

/** The declared wire fields of an error that hold plain JSON values (others stay on this side). */
export function wireFieldsOf(err: EngramError): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of (err.constructor as unknown as EngramErrorClass).wireFields) {
    const v = (err as unknown as Record<string, unknown>)[name];
    if (isPlain(v) || (Array.isArray(v) && v.every(isPlain))) out[name] = v;
  }
  return out;
}

function isPlain(v: unknown): boolean {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/**
 * An error received from another process, rebuilt as its class without running the class's
 * constructor (whose arguments did not travel): message, code, name, typed fields, coverage.
 */
export function rebuildError(
  cls: EngramErrorClass,
  message: string,
  received: { fields?: Record<string, unknown>; coverage?: Coverage; cause?: unknown } = {},
): EngramError {
  const err = Reflect.construct(Error, received.cause !== undefined ? [message, { cause: received.cause }] : [message], cls as unknown as new () => EngramError) as EngramError;
  const fields: Record<string, unknown> = {};
  for (const name of cls.wireFields) if (received.fields && name in received.fields) fields[name] = received.fields[name];
  Object.assign(err, fields, { code: cls.code, name: cls.name });
  if (received.coverage !== undefined) Object.assign(err, { coverage: received.coverage });
  return err;
}

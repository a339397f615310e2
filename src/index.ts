// Public surface of engram-query: nothing else is a supported import path.
// Every error class, each with its stable code and gRPC status (the codec helpers that rebuild
// them from the wire stay internal).
export {
  EngramError, InvalidArgumentError, RemoteInvalidArgumentError, SpaceNotFoundError, SpaceConflictError, AbortError,
  DeadlineExceededError, AllPartitionsFailedError, InsufficientCoverageError, QueryDeadlineExceededError, NodeUnavailableError,
  NotSpaceLeaderError, WriteUnavailableError, WriteOutcomeUnknownError, ReplicationTimeoutError, ConsistencyUnavailableError, MetadataUnavailableError,
  ClusterMismatchError, RaftPeerRefusedError, RaftTransportClosedError, NotInClusterError, UnauthenticatedError, ClientUnauthenticatedError, PermissionDeniedError, FaultSwitchRefusedError,
  EngineClosedError, NodeStartingError, ConnectionBackoffError, PoolClosedError, MalformedPartitionResultError, EngramRpcError,
  ConfigError, NativeUnavailableError, GatherInputError, StorageError, DiskFullError, TooManySpacesError,
  type EngramErrorClass, type RaftPeerRefusal, type AuthFailureReason, type ClientRole,
} from './errors.js';
export { nativeBinding, nativeMode, gatherBackend, type NativeMode } from './native/binding.js';

// The embedded memory engine and its durable storage.
export * from './engine/index.js';

// Queries, their results and coverage.
export type { Consistency, CopyState, Query, QueryKind, QueryOptions, RecallQuery, SpreadQuery, CompleteQuery, ConsolidateQuery, ImagineQuery, PartitionAnswer, CompleteAnswer, ConsolidateAnswer } from './query/types.js';
export type { QueryResult, ResultOf, RecalledMemory, Activation, ImaginedItem } from './query/result.js';
export type { Coverage, PartitionCoverage, PartitionStatus, CopyRole } from './query/coverage.js';
export type { QueryExecutor } from './query/executor.js';
export type { PartitionOutcome } from './query/outcome.js';
export { LocalExecutor } from './query/local-executor.js';
export { answerFromEngine } from './query/engine-partition.js';
export { DistributedExecutor, type DistributedExecutorOptions, type QueryObserver, type WireAnswer } from './query/distributed-executor.js';
export {
  QueryPlanner, DEFAULT_SINGLE_PARTITION_TIMEOUT_MS, DEFAULT_MULTI_PARTITION_TIMEOUT_MS, MAX_TIMEOUT_MS,
  type QueryPlan, type PlannedPartition, type PlannedCopy, type ExecutionStrategy,
} from './query/planner.js';
export { ScatterExecutor, DEFAULT_MAX_IN_FLIGHT_PER_NODE, type ScatterOptions, type ScatterRequest } from './query/scatter.js';
export type { ExecuteContext, QueryContext } from './query/context.js';
export { Deadline } from './query/deadline.js';
export { PartitionCallError, splitPartitionClient, type PartitionClient, type PartitionRequest, type PartitionReply, type PartitionCall, type CopyLoad } from './query/partition-client.js';
export { localPartitionClient, type LocalRunner } from './query/local-partition-client.js';
export { remotePartitionClient, type PartitionTransport } from './query/remote-partition-client.js';
export { CopyRanker } from './query/copy-ranking.js';
export {
  Hedger, parseHedgeOptions, formatHedgePolicy, DEFAULT_HEDGE_BUDGET, DEFAULT_HEDGE_MIN_DELAY_MS, DEFAULT_HEDGE_MAX_DELAY_MS, DEFAULT_HEDGE_QUANTILE,
  type HedgeOptions, type HedgePolicy,
} from './query/hedging.js';
export { QueryMetrics } from './query/query-metrics.js';
export { ConnectionPool, type UnaryCallOptions, type ConnectionPoolStats } from './pool/connection-pool.js';
export type { ConnectionPoolOptions } from './pool/pool-options.js';
export { gatherAnswers } from './query/gather-answers.js';

// The gather engine (native addon with the pure-TS reference as fallback).
export {
  mergeRecall, mergeSpread, mergeImagine, mergeRecallAsync, mergeSpreadAsync, mergeImagineAsync, mergePulses, mergePulsesAsync,
  pickOne, penalty, applyPenalty, gatherBackendSetting,
  DEFAULT_NATIVE_MIN_ROWS, DEFAULT_ASYNC_MIN_ROWS, DEFAULT_NATIVE_PENALTY_MIN_VALUES,
  type GatherOptions, type GatherBackend,
} from './gather/gather-engine.js';
export { GatherRows } from './gather/gather-rows.js';
export { MAX_PENALTY, PARTITIONED_PENALTY } from './gather/reference-penalty.js';
export {
  MAX_PARTITION_ROWS, REJECTION_CODES,
  type PartBase, type RecallPart, type SpreadPart, type ImaginePart, type PulsePart, type PulseMerged,
  type MergedRows, type RecallMerged, type SpreadMerged, type ImagineMerged, type Rejection, type RejectionCode,
} from './gather/gather-types.js';
export type { RecallColumns, SpreadColumns, ImagineColumns } from './wire/columns.js';

// The cluster interfaces the query layer reads, and placement / partition-detection helpers an
// Engram node with its own membership can reuse. (The reference node's membership, metadata and
// replication are its internals, not part of this surface.)
export { StaticClusterView, type ClusterView, type Member, type MemberState, type SpaceAssignment, type StaticClusterViewOptions } from './cluster/cluster-view.js';
export { DEFAULT_REPLICATION_FACTOR, placeSpace, resolvePlacement, rankNodes, rendezvousScore, type Placement, type PlacementRequest } from './cluster/rendezvous.js';
export { PartitionDetector, DEFAULT_PARTITION_THRESHOLD, DEFAULT_HEAL_MS, type PartitionState, type PartitionSnapshot, type PartitionChange } from './cluster/partition-detector.js';

// Embedding in an Engram node: serve its partitions to other nodes, call theirs, authenticated.
export { addPartitionService, partitionServiceImplementation, type PartitionServiceOptions } from './embedding/partition-service.js';
export { internalPool, poolTransport, type InternalPoolOptions } from './embedding/internal-transport.js';
export { internalCallMetadata, verifyInternalCall, NODE_ID_HEADER, AUTH_TAG_HEADER } from './security/internal-auth.js';
export { channelCredentials, serverCredentials } from './security/credentials.js';
export { loadTlsConfig, type TlsConfig, type TlsFiles } from './security/tls-config.js';
export { PROTO_DIR, MAX_MESSAGE_BYTES, LEAN_CHANNEL_OPTIONS } from './wire/proto.js';

// The reference node and the client of its public service.
export { EngramNode, type NodeConfig } from './node/engram-node.js';
export {
  EngramClient, DEFAULT_CLIENT_DEADLINE_MS, DEFAULT_TABLE_REFRESH_MS, type EngramClientOptions, type RoutingMode, type CallOptions,
  type MemoryRecord, type AssociationRecord, type AckLevel, type NodeStatus, type SpaceStatus, type MemberStatus, type AssignmentStatus,
} from './client/engram-client.js';
export { jsonLogger, silentLogger, type Logger } from './util/logger.js';

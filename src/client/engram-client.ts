/**
 * A promise client of the public `Engram` service of any node. Errors come back as
 * `EngramRpcError` with the gRPC status, the server's message, and the engram error code.
 */
import * as grpc from '@grpc/grpc-js';
import { EngramError } from '../errors.js';
import { protos, LEAN_CHANNEL_OPTIONS } from '../wire/proto.js';
import { queryToWire, optionsToWire } from '../query/to-wire.js';
import { resultFromWire } from '../query/result-wire.js';
import type { Coverage } from '../query/coverage.js';
import { receivedCoverage } from '../node/grpc-errors.js';
import type { QueryResult } from '../query/result.js';
import type { Query, QueryOptions } from '../query/types.js';
import type { TlsConfig } from '../security/tls-config.js';
import { channelCredentials } from '../security/credentials.js';

/** Default deadline of one client call, ms. */
export const DEFAULT_CLIENT_DEADLINE_MS = 30_000;

/** A failed call: `status` is the gRPC status, `engramCode` the server's typed error code. */
export class EngramRpcError extends EngramError {
  readonly status: grpc.status;
  readonly statusName: string;
  readonly engramCode: string | undefined;
  /** The coverage of a query that failed for lack of answers, when the server sent it. */
  readonly coverage: Coverage | undefined;
  constructor(err: grpc.ServiceError) {
    const statusName = grpc.status[err.code] ?? String(err.code);
    super('ERR_RPC', `${statusName}: ${err.details || err.message}`, { cause: err });
    this.status = err.code;
    this.statusName = statusName;
    const code = err.metadata?.get('engram-code')[0];
    this.engramCode = typeof code === 'string' ? code : undefined;
    this.coverage = receivedCoverage(err);
  }
}

export interface MemoryRecord {
  id: string;
  embedding: Float32Array | number[];
  content?: string;
  confidence?: { lower: number; upper: number };
  createdAt?: number;
}
export interface AssociationRecord { from: string; to: string; weight: number; toSpace?: string }
export type AckLevel = 'one' | 'quorum' | 'all';

export interface SpaceStatus { id: string; dimension: number; memories: number; associations: number; logPosition: number; patterns: number }
export interface MemberStatus { id: string; grpcAddress: string; gossipAddress: string; state: 'alive' | 'suspect' | 'down' | 'left'; incarnation: number }
export interface AssignmentStatus { space: string; primary: string; replicas: string[]; dimension: number; version: number }
export interface ReplicaLag { space: string; replica: string; ackedPosition: number; primaryPosition: number; lag: number }
export interface NodeStatus {
  nodeId: string;
  version: string;
  uptimeS: number;
  grpcAddress: string;
  spaces: SpaceStatus[];
  /** Empty for a node without a cluster. */
  gossipAddress: string;
  members: MemberStatus[];
  tableVersion: number;
  assignments: AssignmentStatus[];
  replication: ReplicaLag[];
  partitionState: 'connected' | 'partitioned' | 'healing';
}

export interface EngramClientOptions {
  /**
   * TLS: verify the node against `ca` (its certificate must name the host of `address`); `cert`
   * and `key` are optional, the public service needs none. Default plaintext.
   */
  tls?: TlsConfig;
}

export class EngramClient {
  private readonly client: grpc.Client & Record<string, Function>;
  constructor(
    readonly address: string,
    private readonly deadlineMs = DEFAULT_CLIENT_DEADLINE_MS,
    options: EngramClientOptions = {},
  ) {
    const { PublicClient } = protos();
    this.client = new PublicClient(address, channelCredentials(options.tls), {
      ...LEAN_CHANNEL_OPTIONS,
    }) as grpc.Client & Record<string, Function>;
  }

  private call<T>(method: string, request: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      this.client[method]!(request, { deadline: Date.now() + this.deadlineMs }, (err: grpc.ServiceError | null, res: T) =>
        err ? reject(new EngramRpcError(err)) : resolve(res),
      );
    });
  }

  /** `copies`: copies including the primary for those the cluster picks (default: the node's replication factor). */
  createSpace(space: string, options: { dimension?: number; primary?: string; replicas?: string[]; copies?: number } = {}) {
    return this.call<{ space: string; dimension: number; created: boolean; primary: string; replicas: string[] }>('CreateSpace', {
      space,
      dimension: options.dimension ?? 0,
      primary: options.primary ?? '',
      replicas: options.replicas ?? [],
      copies: options.copies,
    });
  }

  store(space: string, batch: { memories?: MemoryRecord[]; associations?: AssociationRecord[]; ack?: AckLevel }) {
    return this.call<{ memories: number; associations: number; copies: number; logPosition: number }>('Store', {
      space,
      memories: (batch.memories ?? []).map((m) => ({ ...m, embedding: Array.from(m.embedding) })),
      associations: batch.associations ?? [],
      ack: `ACK_LEVEL_${(batch.ack ?? 'one').toUpperCase()}`,
    });
  }

  async query(query: Query, options: QueryOptions = {}): Promise<QueryResult> {
    const res = await this.call<Parameters<typeof resultFromWire>[0]>('ExecuteQuery', { query: queryToWire(query), options: optionsToWire(options) });
    return resultFromWire(res);
  }

  status(): Promise<NodeStatus> {
    return this.call<NodeStatus>('Status', {});
  }

  close(): void {
    this.client.close();
  }
}

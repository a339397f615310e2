/**
 * Plain shapes of the wire messages as @grpc/proto-loader decodes them (camelCase fields,
 * enums as strings, oneofs with their discriminator, bytes as Buffer).
 */

export interface ConfidenceMsg { lower: number; upper: number }

export interface MemoryMsg {
  id: string;
  embedding: number[];
  content: string;
  confidence: ConfidenceMsg | null;
  createdAt: number;
}

export interface AssociationMsg { from: string; to: string; weight: number; toSpace: string }

export interface CueMsg { embedding?: { values: number[] } | null; text?: string; kind?: 'embedding' | 'text' }

export interface RecallQueryMsg { space: string; cue: CueMsg | null; limit?: number; threshold?: number }
export interface SpreadQueryMsg { space: string; seeds: string[]; hops?: number; decay?: number; threshold?: number; spaces?: string[]; allSpaces?: boolean }
export interface CompleteQueryMsg { space: string; values: number[]; known: boolean[]; neighbours?: number }
export interface ConsolidateQueryMsg { space: string; threshold?: number }
export interface ImagineQueryMsg { spaces: string[]; cue: CueMsg | null; limit?: number; novelty?: number }

export interface QueryMsg {
  kind?: 'recall' | 'spread' | 'complete' | 'consolidate' | 'imagine';
  recall?: RecallQueryMsg | null;
  spread?: SpreadQueryMsg | null;
  complete?: CompleteQueryMsg | null;
  consolidate?: ConsolidateQueryMsg | null;
  imagine?: ImagineQueryMsg | null;
}

export interface QueryOptionsMsg { timeoutMs?: number; allowPartial?: boolean; minCoverage?: number; consistency?: string | number; preference?: string }

export type PartitionStatusName = 'PARTITION_STATUS_OK' | 'PARTITION_STATUS_TIMEOUT' | 'PARTITION_STATUS_UNAVAILABLE' | 'PARTITION_STATUS_ERROR';
export type RoleName = 'ROLE_PRIMARY' | 'ROLE_REPLICA';

export interface PartitionCoverageMsg {
  partition: string;
  node: string;
  role: RoleName;
  status: PartitionStatusName;
  reason: string;
  latencyMs: number;
  raftRole?: string;
  behind?: number;
  hedged?: boolean;
  rounds?: number;
}

export interface CoverageMsg {
  expected: number;
  responding: number;
  failed: number;
  timedOut: number;
  penalty: number;
  partitioned: boolean;
  full: boolean;
  partitions: PartitionCoverageMsg[];
  rounds?: number;
}

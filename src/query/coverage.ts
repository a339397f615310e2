/**
 * The coverage block every answer carries (DESIGN §3; after Vespa's `coverage` and
 * Elasticsearch's `_shards`): how many partitions were expected, which answered, the penalty.
 */
import type { CoverageMsg, PartitionCoverageMsg, PartitionStatusName, RoleName } from '../wire/messages.js';

export type PartitionStatus = 'ok' | 'timeout' | 'unavailable' | 'error';
export type CopyRole = 'primary' | 'replica';

export interface PartitionCoverage {
  /** The partition: a memory space id. */
  partition: string;
  /** Node that answered, or the last one tried. */
  node: string;
  role: CopyRole;
  status: PartitionStatus;
  /** Why it is not `ok` (empty when ok). */
  reason: string;
  /** Time from dispatch to answer or failure, ms. */
  latencyMs: number;
  /** The answering copy's Raft role (leader, follower, …), when known; '' otherwise. */
  raftRole?: string;
  /** Entries that copy had not applied of the commit index it knew, when known. */
  behind?: number;
  /** A second copy was asked because the first was slow (hedged request); `node` answered. */
  hedged?: boolean;
  /**
   * A Spread over several spaces: rounds this partition answered (across rounds, `node` is the
   * copy that answered the last, `latencyMs` the sum). 0: no pulse reached it, so it was not
   * asked and could not change the answer; it counts as responding.
   */
  rounds?: number;
}

export interface Coverage {
  expected: number;
  responding: number;
  failed: number;
  timedOut: number;
  /** Confidence penalty applied to the answer, 0..0.5. */
  penalty: number;
  /** Whether this node saw itself cut off from part of the cluster. */
  partitioned: boolean;
  /** True when every expected partition answered. */
  full: boolean;
  partitions: PartitionCoverage[];
  /** A Spread over several spaces: rounds run, the seeds' round first. */
  rounds?: number;
}

/** Builds the block from per-partition outcomes (in plan order) and the penalty already computed. */
export function buildCoverage(partitions: PartitionCoverage[], penalty: number, partitioned: boolean): Coverage {
  let responding = 0;
  let timedOut = 0;
  for (const p of partitions) {
    if (p.status === 'ok') responding++;
    else if (p.status === 'timeout') timedOut++;
  }
  return {
    expected: partitions.length,
    responding,
    failed: partitions.length - responding,
    timedOut,
    penalty,
    partitioned,
    full: responding === partitions.length,
    partitions,
  };
}

const STATUS_TO_WIRE: Record<PartitionStatus, PartitionStatusName> = {
  ok: 'PARTITION_STATUS_OK',
  timeout: 'PARTITION_STATUS_TIMEOUT',
  unavailable: 'PARTITION_STATUS_UNAVAILABLE',
  error: 'PARTITION_STATUS_ERROR',
};
const ROLE_TO_WIRE: Record<CopyRole, RoleName> = { primary: 'ROLE_PRIMARY', replica: 'ROLE_REPLICA' };

export function coverageToWire(c: Coverage): CoverageMsg {
  return { ...c, partitions: c.partitions.map((p) => ({ ...p, status: STATUS_TO_WIRE[p.status], role: ROLE_TO_WIRE[p.role] })) };
}

export function coverageFromWire(c: CoverageMsg): Coverage {
  const status = (s: string): PartitionStatus =>
    (Object.keys(STATUS_TO_WIRE) as PartitionStatus[]).find((k) => STATUS_TO_WIRE[k] === s) ?? 'error';
  const { rounds: total, ...block } = c;
  return {
    ...block,
    ...(total ? { rounds: total } : {}),
    // `_behind` is proto-loader's name of the synthetic oneof of `optional behind`: not a field.
    partitions: c.partitions.map(({ raftRole, behind, hedged, rounds, _behind: _o, ...p }: PartitionCoverageMsg & { _behind?: unknown }) => ({
      ...p,
      ...(hedged ? { hedged: true } : {}),
      // Only a Spread over several spaces counts rounds (its coverage has rounds > 0).
      ...(total ? { rounds: rounds ?? 0 } : {}),
      status: status(p.status),
      role: p.role === 'ROLE_REPLICA' ? 'replica' : 'primary',
      // proto3 sends '' for a copy whose Raft role is not known: the field is then left out.
      ...(raftRole ? { raftRole, behind: Number(behind ?? 0) } : {}),
    })),
  };
}

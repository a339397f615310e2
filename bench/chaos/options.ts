/**
 * Options of one chaos run (`npm run chaos`, and its short form in `npm test`): the cluster, the
 * load, the fault schedule and the tolerances of the resource checks. Every duration in ms.
 */
import type { SwimTimingOptions } from '../../src/cluster/swim-options.js';

export interface ChaosOptions {
  /** Nodes n1…nN. */
  nodes: number;
  /**
   * Cut nodes off for real: the nodes that get cut each run in a network namespace on a bridge,
   * and a cut takes their link down (gossip and gRPC). Needs root; otherwise (or false) the
   * test-only fault switch drops gossip only.
   */
  netns: boolean;
  /** Copies of each space, primary included (`--replication-factor`). */
  replicationFactor: number;
  /** Memory spaces the load spreads over. */
  spaces: number;
  /** Dimension of every space (small: the load is about the cluster, not the engine). */
  dimension: number;
  writers: number;
  readers: number;
  /** Memories per store batch (each with a unique id). */
  batchSize: number;
  /** Pause of a writer after each write, ms (paces the load so every write can be verified). */
  writePauseMs: number;
  /** Pause of a reader after each query, ms. */
  readPauseMs: number;
  /** Per-partition deadline of every query but Consolidate, ms. */
  queryTimeoutMs: number;
  /** Per-partition deadline of Consolidate, ms. */
  consolidateTimeoutMs: number;
  /** Share of reader queries that are Consolidate. */
  consolidateShare: number;
  /** Length of the load (faults included), ms. */
  durationMs: number;
  /** Load without faults before the first one, ms. */
  warmupMs: number;
  /** Quiet time between two faults, ms. */
  quietMs: number;
  /** How long a killed node stays down, a delay or a cut lasts, ms. */
  faultHoldMs: number;
  /** Injected delay of the delayed node, ms (above queryTimeoutMs, so its copies time out). */
  delayMs: number;
  /** Kill/restart cycles of a flapping node, and how long it stays down each time, ms. */
  flaps: number;
  flapDownMs: number;
  /** SWIM timings of every node (unset: the node defaults). */
  timing?: SwimTimingOptions;
  /** Extra node flags. */
  extraArgs: string[];
  /** Extra margin a query may take past its deadline (the client→coordinator hop), ms. */
  deadlineSlackMs: number;
  /** Allowed growth of open fds per never-restarted node between baseline and the end. */
  fdTolerance: number;
  /** Allowed growth of active resources (all types) per never-restarted node. */
  resourceTolerance: number;
  /** Allowed growth of used heap per never-restarted node, bytes. */
  heapToleranceBytes: number;
  /** Seed of the load's PRNG (which node, which space, which vector). */
  seed: number;
  /** Print progress lines on stderr. */
  verbose: boolean;
}

/** The long run: 5 nodes, RF 3, 4 spaces, 4 writers + 4 readers, 5 minutes, node SWIM defaults. */
export const LONG_RUN: ChaosOptions = {
  netns: true,
  nodes: 5,
  replicationFactor: 3,
  spaces: 4,
  dimension: 32,
  writers: 4,
  readers: 4,
  batchSize: 3,
  writePauseMs: 60,
  readPauseMs: 5,
  queryTimeoutMs: 300,
  consolidateTimeoutMs: 1_000,
  consolidateShare: 0.02,
  durationMs: 300_000,
  warmupMs: 10_000,
  quietMs: 10_000,
  faultHoldMs: 10_000,
  delayMs: 600,
  flaps: 3,
  flapDownMs: 1_500,
  extraArgs: [],
  deadlineSlackMs: 100,
  fdTolerance: 10,
  resourceTolerance: 10,
  heapToleranceBytes: 64 * 2 ** 20,
  seed: 7,
  verbose: true,
};

/** The CI run: same shape, fast SWIM timings (test/helpers/cluster.ts), ~35 s of load. */
export const SHORT_RUN: ChaosOptions = {
  ...LONG_RUN,
  durationMs: 35_000,
  warmupMs: 3_000,
  quietMs: 2_000,
  faultHoldMs: 3_000,
  flaps: 3,
  flapDownMs: 600,
  writePauseMs: 80,
  readPauseMs: 15,
  timing: { probePeriodMs: 200, probeTimeoutMs: 80, suspectToDownMs: 600 },
  extraArgs: ['--heal-ms', '500'],
  verbose: false,
};

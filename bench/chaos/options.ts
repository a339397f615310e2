/**
 * Options of one chaos run (`npm run chaos`, and its short form in `npm test`): the cluster, the
 * load, the nemesis schedule and the deadlines of the checks. Every duration in ms.
 */
import type { SwimTimingOptions } from '../../src/cluster/swim-options.js';

/** The faults the nemesis knows; each is healed (and the cluster settled) before the next. */
export type NemesisKind =
  | 'kill-leader'
  | 'cut-leader'
  | 'cut-follower'
  | 'wipe-follower'
  | 'wipe-leader'
  | 'rolling-restart'
  | 'add-node'
  | 'remove-node';

export const ALL_NEMESES: readonly NemesisKind[] = [
  'kill-leader', 'cut-leader', 'cut-follower', 'wipe-follower', 'wipe-leader', 'rolling-restart', 'add-node', 'remove-node',
];

export interface ChaosOptions {
  /** Nodes n1…nN at the start (`add-node` adds more, `remove-node` removes one for good). */
  nodes: number;
  /**
   * Cut nodes off for real: every node runs in a network namespace of its own on a bridge and a
   * cut takes its link down (gossip, Raft and client gRPC). Needs root; otherwise (or false) the
   * test-only fault switch stops gossip and Raft messages only (clients still reach the node).
   */
  netns: boolean;
  /** Copies of each space (`--replication-factor`). */
  replicationFactor: number;
  spaces: number;
  /** Dimension of every space; also the number of bucket directions (see load.ts). */
  dimension: number;
  writers: number;
  readers: number;
  /**
   * Readers that run Spreads over several spaces (graph spaces of their own, loaded once before
   * the load with associations across them), checked against the union graph's Spread.
   */
  spreadReaders: number;
  /** Graph spaces of those Spreads. */
  graphSpaces: number;
  /** Memories per store batch (each id written exactly once in the whole run). */
  batchSize: number;
  /** Share of writes sent with `ack: 'all'` (the rest `quorum`). */
  ackAllShare: number;
  /** Client deadline of a write, ms: a write that outlives it is `unknown`. */
  writeTimeoutMs: number;
  /** Per-query deadline of a read, ms. */
  readTimeoutMs: number;
  /** Share of reads sent with `consistency: 'leader'` (the rest `any`). */
  leaderReadShare: number;
  /** Pause of a writer / reader between two operations, ms (paces the load, never synchronises). */
  writePauseMs: number;
  readPauseMs: number;
  /** The nemesis schedule: each kind in turn, `rounds` times. */
  nemeses: NemesisKind[];
  rounds: number;
  /** Load without faults before the first one, ms. */
  warmupMs: number;
  /** How long a fault lasts before it is healed (a killed node down, a cut in place), ms. */
  faultHoldMs: number;
  /** Load after a fault settled, before the next, ms. */
  quietMs: number;
  /** `--reassign-after` of every node, ms: how soon `remove-node`'s copies are re-made elsewhere. */
  reassignAfterMs: number;
  /** Deadline for the cluster to settle after a heal (one leader per group, copies identical), ms. */
  settleDeadlineMs: number;
  /** SWIM timings of every node (unset: the node defaults). */
  timing?: SwimTimingOptions;
  /** Extra node flags. */
  extraArgs: string[];
  seed: number;
  verbose: boolean;
}

/** `npm run chaos`: node SWIM defaults, every nemesis twice. */
export const LONG_RUN: ChaosOptions = {
  nodes: 5,
  netns: true,
  replicationFactor: 3,
  spaces: 3,
  dimension: 32,
  writers: 6,
  readers: 3,
  spreadReaders: 1,
  graphSpaces: 3,
  batchSize: 3,
  ackAllShare: 0.25,
  writeTimeoutMs: 3_000,
  readTimeoutMs: 1_000,
  leaderReadShare: 0.5,
  writePauseMs: 20,
  readPauseMs: 20,
  nemeses: [...ALL_NEMESES],
  rounds: 2,
  warmupMs: 5_000,
  faultHoldMs: 6_000,
  quietMs: 4_000,
  reassignAfterMs: 10_000,
  settleDeadlineMs: 90_000,
  extraArgs: [],
  seed: 12,
  verbose: true,
};

/**
 * The `npm test` run: 3 nodes, fast SWIM timings, each nemesis once but the follower wipe (the
 * leader wipe covers it and more; a wipe costs ~15 s of re-seeding) — about 2 minutes on 2 cores.
 */
export const SHORT_RUN: ChaosOptions = {
  ...LONG_RUN,
  nodes: 3,
  nemeses: ALL_NEMESES.filter((k) => k !== 'wipe-follower'),
  spaces: 2,
  writers: 4,
  readers: 2,
  spreadReaders: 1,
  graphSpaces: 3,
  rounds: 1,
  warmupMs: 1_500,
  faultHoldMs: 2_000,
  quietMs: 1_000,
  // Longer than a held fault plus a restart, so only remove-node moves copies.
  reassignAfterMs: 8_000,
  settleDeadlineMs: 30_000,
  writePauseMs: 30,
  readPauseMs: 30,
  timing: { probePeriodMs: 200, probeTimeoutMs: 80, suspectToDownMs: 600 },
  extraArgs: ['--heal-ms', '500'],
  verbose: false,
};

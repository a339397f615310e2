/**
 * TestCluster: a LocalCluster with fast SWIM timings and the fault switch on, for tests. Every
 * wait polls with a deadline derived from those timings.
 */
import { LocalCluster, type LocalNode } from '../../src/cluster/local-cluster.js';

export const TIMING = { probePeriodMs: 200, probeTimeoutMs: 80, suspectToDownMs: 600 };
export const CLUSTER_KEY = 'test-cluster-key';

export type ClusterNode = LocalNode;

export class TestCluster extends LocalCluster {
  constructor(extraArgs: string[] = []) {
    const metrics = extraArgs.includes('--metrics');
    const rest = metrics ? extraArgs.filter((a, i) => a !== '--metrics' && extraArgs[i - 1] !== '--metrics') : extraArgs;
    // Copies stay where a test places them unless it turns rebalancing on: a move in the middle
    // of a test about something else would change what it reads where. Rebalancing itself is
    // tested with it on (cluster-replication, the chaos run).
    const rebalance = rest.includes('--rebalance') ? [] : ['--rebalance', 'off'];
    super({ timing: TIMING, clusterKey: CLUSTER_KEY, faults: true, metrics, extraArgs: ['--heal-ms', '500', ...rebalance, ...rest] });
  }

  /** Worst-case time for every member to see a crashed member down, ms (3× the SWIM budget). */
  detectionDeadlineMs(members = this.nodes.size): number {
    return 3 * this.detectionBudgetMs(members);
  }

  override waitConverged(deadlineMs = this.detectionDeadlineMs() * 2) {
    return super.waitConverged(deadlineMs);
  }
}

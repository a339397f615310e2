/**
 * The cluster of bench/naive-coordinator.ts: real `engram-node` processes on 127.0.0.1, SPACES
 * spaces placed round-robin on them (one copy each), each filled with seeded memories and
 * random associations (so a Spread reaches a few hundred memories), and the placement table the
 * naive coordinator plans from.
 */
import { LocalCluster } from '../../src/cluster/local-cluster.js';
import { prng } from '../../src/util/prng.js';
import { placeSpaces } from '../cluster-data.js';
import type { PlacementTable } from './coordinator.js';

export interface NaiveSetup {
  nodes: number;
  spaces: number;
  memoriesPerSpace: number;
  dimension: number;
  /** Outgoing associations per memory (random targets in the same space, weight 0.05..1). */
  edgesPerMemory: number;
}

export interface PlacedCluster {
  cluster: LocalCluster;
  /** Space ids in placement order: space i is on node n((i mod nodes) + 1). */
  spaces: { space: string; primary: string }[];
  table: PlacementTable;
  setupMs: number;
}

const ASSOCIATION_BATCH = 5_000;

/** Starts the nodes, places and fills the spaces, and reads the placement table from n1. */
export async function startPlacedCluster(setup: NaiveSetup, log: (s: string) => void): Promise<PlacedCluster> {
  const t0 = performance.now();
  const cluster = new LocalCluster({ extraArgs: ['--replication-factor', '1'], prefix: 'engram-bench-naive-' });
  try {
    await cluster.start(setup.nodes);
    log(`  ${setup.nodes} nodes up after ${Math.round(performance.now() - t0)} ms`);
    const spaces = Array.from({ length: setup.spaces }, (_, i) => ({ space: `naive-${i}`, primary: `n${(i % setup.nodes) + 1}` }));
    const n1 = cluster.node('n1').client;
    await placeSpaces(cluster, spaces, setup.memoriesPerSpace, setup.dimension, n1);
    for (const [i, { space, primary }] of spaces.entries()) {
      const random = prng(0xa550c + i);
      const edges: { from: string; to: string; weight: number }[] = [];
      for (let m = 0; m < setup.memoriesPerSpace; m++) {
        const targets = new Set<number>();
        while (targets.size < setup.edgesPerMemory) {
          const t = Math.floor(random() * setup.memoriesPerSpace);
          if (t !== m) targets.add(t);
        }
        for (const t of targets) edges.push({ from: `m${m}`, to: `m${t}`, weight: 0.05 + 0.95 * random() });
      }
      const client = cluster.node(primary).client;
      for (let s = 0; s < edges.length; s += ASSOCIATION_BATCH) await client.store(space, { associations: edges.slice(s, s + ASSOCIATION_BATCH) });
    }
    log(`  ${setup.spaces} spaces placed and filled after ${Math.round(performance.now() - t0)} ms`);
    const status = await n1.status();
    const addr = new Map(status.members.map((m) => [m.id, m.grpcAddress]));
    const table = new Map(status.assignments.map((a) => [a.space, { nodeId: a.primary, addr: addr.get(a.primary)! }]));
    for (const { space, primary } of spaces) {
      if (table.get(space)?.nodeId !== primary || !table.get(space)?.addr) throw new Error(`placement of ${space}: ${JSON.stringify(table.get(space))}`);
    }
    return { cluster, spaces, table, setupMs: performance.now() - t0 };
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
}

/**
 * Latency against fanout: Imagine over 1, 3, 10 and 30 partitions on a 5-node loopback cluster.
 * 30 spaces (200 memories × 32 dims each, no replicas) are placed round-robin on n1…n4; the
 * coordinator n5 holds none, so every partition is a remote call (fanout 1 → n1; 3 → n1–n3;
 * 10 and 30 → n1–n4). One query in flight; the fanouts are interleaved query by query (the
 * order rotates) so drift on a shared machine hits them alike. Client-side p50/p99, and the
 * slowest partition's coordinator-side latency.
 *
 *   node dist/bench/fanout.js [--quick] [--queries N] [--out <dir>]
 */
import { LocalCluster } from '../src/cluster/local-cluster.js';
import type { Query } from '../src/query/types.js';
import { argInt, loadavg, printTable, round, spreadOf, writeResults } from './common.js';
import { cues, placeSpaces } from './cluster-data.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const QUERIES = argInt('--queries', quick ? 40 : 300);
const WARMUP = quick ? 10 : 30;
const FANOUTS = [1, 3, 10, 30];
const OWNERS = ['n1', 'n2', 'n3', 'n4'];
const DIM = 32;
const MEMORIES = 200;

export interface FanoutRow { partitions: number; nodes: number; n: number; p50Ms: number; p99Ms: number; meanMs: number; slowestPartitionP50Ms: number }

async function main(): Promise<void> {
  const t0 = performance.now();
  const loadStart = loadavg();
  console.log(`fanout (${quick ? 'quick' : 'full'}: ${QUERIES} queries per fanout ${FANOUTS.join('/')}): loadavg at start ${loadStart.join(' ')}`);
  const cluster = new LocalCluster({ extraArgs: ['--replication-factor', '1'], prefix: 'engram-bench-fanout-' });
  try {
    await cluster.start(5);
    const n5 = cluster.node('n5').client;
    const spaces = Array.from({ length: Math.max(...FANOUTS) }, (_, i) => ({ space: `fan-${String(i).padStart(2, '0')}`, primary: OWNERS[i % OWNERS.length]! }));
    await placeSpaces(cluster, spaces, MEMORIES, DIM, n5);
    const cueList = cues(0xfa, 32, DIM);
    const query = (k: number, i: number): Query => ({ kind: 'imagine', spaces: spaces.slice(0, k).map((s) => s.space), cue: { embedding: cueList[i % cueList.length]! }, limit: 5 });

    const lat = new Map(FANOUTS.map((k) => [k, [] as number[]]));
    const slowest = new Map(FANOUTS.map((k) => [k, [] as number[]]));
    for (let i = 0; i < WARMUP + QUERIES; i++) {
      for (let j = 0; j < FANOUTS.length; j++) {
        const k = FANOUTS[(i + j) % FANOUTS.length]!;
        const s = performance.now();
        const r = await n5.query(query(k, i));
        const ms = performance.now() - s;
        if (!r.coverage.full || r.coverage.expected !== k) throw new Error(`fanout ${k}: ${JSON.stringify(r.coverage)}`);
        if (i < WARMUP) continue;
        lat.get(k)!.push(ms);
        slowest.get(k)!.push(Math.max(...r.coverage.partitions.map((p) => p.latencyMs)));
      }
    }
    const rows: FanoutRow[] = FANOUTS.map((k) => {
      const s = spreadOf(lat.get(k)!, 3);
      return { partitions: k, nodes: new Set(spaces.slice(0, k).map((x) => x.primary)).size, n: s.n, p50Ms: s.p50, p99Ms: s.p99, meanMs: s.mean, slowestPartitionP50Ms: spreadOf(slowest.get(k)!, 3).p50 };
    });
    const loadEnd = loadavg();
    printTable(`latency vs fanout: Imagine through n5 (holds none), client-side ms, 1 in flight (loadavg ${loadEnd.join(' ')})`, rows.map((r) => ({
      partitions: r.partitions, 'owner nodes': r.nodes, 'p50 ms': r.p50Ms, 'p99 ms': r.p99Ms, 'mean ms': r.meanMs, 'slowest partition p50 ms': r.slowestPartitionP50Ms, n: r.n,
    })));
    const path = writeResults('fanout.json', `node dist/bench/fanout.js ${args.join(' ')}`.trim(), {
      quick,
      durationS: round((performance.now() - t0) / 1000, 1),
      loadavg: { start: loadStart, end: loadEnd },
      setup: { nodes: 5, coordinator: 'n5 (holds none)', owners: OWNERS, query: 'Imagine limit 5', memoriesPerSpace: MEMORIES, dimension: DIM, queriesPerFanout: QUERIES, warmup: WARMUP },
      fanout: rows,
    });
    console.log(`wrote ${path}`);
  } finally {
    await cluster.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

/**
 * Throughput of one coordinator node: Recall top-10 through a non-owner node of a 3-node loopback
 * cluster (space on n1, 1,000 memories × 64 dims, no replicas; every query goes to n2, which asks
 * n1), closed loop at 1, 8 and 32 concurrent clients, each level for a fixed time after a
 * warm-up. Queries/s and client-side p50/p99.
 *
 * The clients live in this process, so they share its event loop and (grpc-js shares subchannels
 * between clients with equal options) one HTTP/2 connection to n2; on a 2-core machine the
 * benchmark process, n1 and n2 compete for the cores — the figures are of this whole setup.
 *
 *   node dist/bench/throughput.js [--quick] [--seconds S] [--out <dir>]
 */
import { LocalCluster } from '../src/cluster/local-cluster.js';
import { EngramClient } from '../src/client/engram-client.js';
import type { Query } from '../src/query/types.js';
import { argInt, loadavg, printTable, round, spreadOf, writeResults } from './common.js';
import { cues, placeSpaces } from './cluster-data.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const SECONDS = argInt('--seconds', quick ? 2 : 10);
const WARMUP_MS = quick ? 500 : 2_000;
const LEVELS = [1, 8, 32];
const DIM = 64;
const MEMORIES = 1_000;
const SPACE = 'tp-bench';

export interface ThroughputRow { clients: number; queries: number; durationMs: number; qps: number; p50Ms: number; p99Ms: number; maxMs: number; loadavg: number[] }

async function closedLoop(clients: EngramClient[], query: (i: number) => Query, ms: number): Promise<{ lat: number[]; durationMs: number }> {
  const lat: number[] = [];
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    clients.map(async (c, ci) => {
      for (let i = ci; performance.now() < end; i += clients.length) {
        const s = performance.now();
        const r = await c.query(query(i));
        lat.push(performance.now() - s);
        if (!r.coverage.full) throw new Error('partial answer under load');
      }
    }),
  );
  return { lat, durationMs: performance.now() - t0 };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const loadStart = loadavg();
  console.log(`throughput (${quick ? 'quick' : 'full'}: ${LEVELS.join('/')} clients x ${SECONDS} s): loadavg at start ${loadStart.join(' ')}`);
  const cluster = new LocalCluster({ extraArgs: ['--replication-factor', '1'], prefix: 'engram-bench-throughput-' });
  const clients: EngramClient[] = [];
  try {
    await cluster.start(3);
    const n2 = cluster.node('n2');
    await placeSpaces(cluster, [{ space: SPACE, primary: 'n1' }], MEMORIES, DIM, n2.client);
    const cueList = cues(0x7470, 64, DIM);
    const query = (i: number): Query => ({ kind: 'recall', space: SPACE, cue: { embedding: cueList[i % cueList.length]! }, limit: 10 });
    const check = await n2.client.query(query(0));
    if (check.kind !== 'recall' || check.memories.length !== 10 || check.coverage.partitions[0]?.node !== 'n1') throw new Error(`check failed: ${JSON.stringify(check.coverage)}`);

    const rows: ThroughputRow[] = [];
    for (const level of LEVELS) {
      while (clients.length < level) clients.push(new EngramClient({ nodes: [n2.proc.grpcAddress], deadlineMs: 10_000, routing: 'any' }));
      const active = clients.slice(0, level);
      await closedLoop(active, query, WARMUP_MS);
      const { lat, durationMs } = await closedLoop(active, query, SECONDS * 1000);
      const s = spreadOf(lat, 3);
      const row = { clients: level, queries: lat.length, durationMs: Math.round(durationMs), qps: Math.round(lat.length / (durationMs / 1000)), p50Ms: s.p50, p99Ms: s.p99, maxMs: s.max, loadavg: loadavg() };
      rows.push(row);
      console.log(`  ${level} clients: ${row.qps} queries/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms (loadavg ${row.loadavg.join(' ')})`);
    }
    printTable('throughput: Recall top-10 through non-owner n2 (space on n1), closed loop', rows.map((r) => ({
      clients: r.clients, 'queries/s': r.qps, 'p50 ms': r.p50Ms, 'p99 ms': r.p99Ms, 'max ms': r.maxMs, queries: r.queries, loadavg: r.loadavg.join(' '),
    })));
    const path = writeResults('throughput.json', `node dist/bench/throughput.js ${args.join(' ')}`.trim(), {
      quick,
      durationS: round((performance.now() - t0) / 1000, 1),
      loadavg: { start: loadStart, end: loadavg() },
      setup: { nodes: 3, coordinator: 'n2 (non-owner)', owner: 'n1', query: 'Recall top-10, embedding cue', memories: MEMORIES, dimension: DIM, secondsPerLevel: SECONDS, warmupMs: WARMUP_MS, clientsShareProcess: true },
      throughput: rows,
    });
    console.log(`wrote ${path}`);
  } finally {
    for (const c of clients) c.close();
    await cluster.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

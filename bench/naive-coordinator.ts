/**
 * Issue 13: the task card's coordinator written naively (bench/naive/coordinator.ts: Promise.all
 * over grpc-js, row-wise protobuf results, JS Map merges, a new channel per call) against ours,
 * side by side in one run on a real loopback cluster.
 *
 * Cluster: NODES `engram-node` processes on 127.0.0.1 (--replication-factor 1), SPACES spaces of
 * MEMORIES memories × DIM dims and EDGES associations per memory, space i on node n(i mod 3 + 1).
 * Queries: Recall top-10 and Spread (one seed, default hops/decay/threshold) on naive-0 (on n1),
 * Imagine (limit 10 per space) over naive-0… at 1, 3 and 10 partitions.
 *
 * Coordinators:
 *  - naive: the card's plan/scatter/gather in this process, one call per partition straight to
 *    the space's owner (public ExecuteQuery for that one space), each call on a new grpc-js
 *    client closed after it;
 *  - naive-pooled: the same with the card's ConnectionPool (one client per node, kept), which
 *    splits what channel churn costs from what the rest of the naive path costs;
 *  - ours: EngramClient → n1's ExecuteQuery; n1 plans, answers its own partitions in-process,
 *    scatters the rest over its pooled internal channels (columnar answers) and gathers natively.
 *    At 1 partition n1 is the owner (no hop more than the naive); at 3 and 10 the client → n1 hop
 *    comes on top of n1 → n2/n3, while the naive calls every owner directly.
 *
 * Recall and Spread are measured at 1 partition only: in this API they are single-space queries
 * (RecallQuery / SpreadQuery name one space, and the planner broadcasts only an Imagine);
 * cross-partition Spread is issue 15. A Recall "over 3 spaces" would be N queries merged by the
 * caller, which is not our coordinator.
 *
 * Before timing, every coordinator must give the same answer on CHECK queries per row (same ids,
 * same order, same scores bit for bit). Then two phases, every series interleaved with the others:
 * 1 client (one query in flight; p50/p99), and CLIENTS concurrent clients in a closed loop
 * (queries/s, p50/p99). Client-side latency (performance.now() around the call), figures as the
 * other benches compute them (bench/common.ts spreadOf). The clients share this process; on a
 * small machine it competes with the nodes for the cores — the figures are of this whole setup.
 *
 *   node dist/bench/naive-coordinator.js [--quick] [--rounds N] [--slice-ms MS] [--out DIR|FILE]
 *                                        (npm run bench:naive)
 */
import { EngramClient } from '../src/client/engram-client.js';
import { gatherBackend } from '../src/native/binding.js';
import { prng } from '../src/util/prng.js';
import { argInt, loadavg, printTable, round, spreadOf, writeResults } from './common.js';
import { cues } from './cluster-data.js';
import { startPlacedCluster, type PlacedCluster } from './naive/cluster.js';
import { NaiveCoordinator } from './naive/coordinator.js';
import { closedLoop, oneClient } from './naive/load.js';
import { checkSameAnswers, naiveSeries, oursSeries, type CheckResult, type Config, type Series, type Workload } from './naive/series.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const NODES = 3;
const SPACES = 10;
const MEMORIES = quick ? 500 : 2_000;
const DIM = 64;
const EDGES = 6;
const CUES = 64;
const CHECK = quick ? 4 : 16;
const WARMUP_ROUNDS = quick ? 10 : 50;
const ROUNDS = argInt('--rounds', quick ? 40 : 1_000);
const MIN_ROUNDS = Math.min(ROUNDS, quick ? 40 : 300);
const ONE_CLIENT_BUDGET_MS = quick ? 3_000 : 70_000;
const CLIENTS = 8;
const LOAD_WARMUP_MS = quick ? 150 : 500;
const LOAD_ROUNDS = quick ? 1 : 3;
const SLICE_MS = argInt('--slice-ms', quick ? 250 : 1_200);
const CONFIGS: Config[] = [
  { kind: 'recall', partitions: 1 },
  { kind: 'spread', partitions: 1 },
  { kind: 'imagine', partitions: 1 },
  { kind: 'imagine', partitions: 3 },
  { kind: 'imagine', partitions: 10 },
];
const ABSENT = {
  rows: ['recall x3', 'recall x10', 'spread x3', 'spread x10'],
  why: 'Recall and Spread are single-space queries in this API (RecallQuery/SpreadQuery name one space; the planner broadcasts only an Imagine), so our coordinator has no multi-partition Recall or Spread to compare with; cross-partition Spread is issue 15.',
};

let placed: PlacedCluster | undefined;
const clients: EngramClient[] = [];
const naives: NaiveCoordinator[] = [];

async function cleanup(): Promise<void> {
  for (const c of clients) c.close();
  for (const n of naives) n.close();
  await placed?.cluster.stop();
}

process.once('SIGINT', () => {
  console.error('interrupted: stopping the cluster');
  void cleanup().finally(() => process.exit(130));
});

const perQuery = (count: number, queries: number) => (queries > 0 ? round(count / queries, 2) : '-');

async function main(): Promise<void> {
  const t0 = performance.now();
  const loadStart = loadavg();
  const backend = gatherBackend();
  console.log(`naive coordinator vs ours (${quick ? 'quick' : 'full'}: ${MIN_ROUNDS}-${ROUNDS} rounds (${ONE_CLIENT_BUDGET_MS / 1000} s) at 1 client, ${LOAD_ROUNDS} x ${SLICE_MS} ms per series at ${CLIENTS} clients); gather backend ${backend}; loadavg at start ${loadStart.join(' ')}`);
  if (backend !== 'native') console.warn('WARNING: the native addon did not load from this build: "ours" runs the pure-TS gather');

  placed = await startPlacedCluster({ nodes: NODES, spaces: SPACES, memoriesPerSpace: MEMORIES, dimension: DIM, edgesPerMemory: EDGES }, console.log);
  const n1 = placed.cluster.node('n1').proc.grpcAddress;
  const random = prng(0x5eed);
  const workload: Workload = {
    spaces: placed.spaces.map((s) => s.space),
    cues: cues(0xc0e, CUES, DIM),
    seeds: Array.from({ length: CUES }, () => `m${Math.floor(random() * MEMORIES)}`),
    recallLimit: 10,
    imagineLimit: 10,
  };
  for (let i = 0; i < CLIENTS; i++) clients.push(new EngramClient({ nodes: [n1], deadlineMs: 10_000 }));
  const perCall = new NaiveCoordinator(placed.table, { channels: 'per-call' });
  const pooled = new NaiveCoordinator(placed.table, { channels: 'pooled' });
  naives.push(perCall, pooled);

  const checks: CheckResult[] = [];
  for (const c of CONFIGS) checks.push(await checkSameAnswers(c, workload, clients[0]!, [perCall, pooled], CHECK));
  printTable(`same answers before timing (${CHECK} queries per row; ids, order and scores equal)`, checks.map((c) => ({
    kind: c.kind, partitions: c.partitions, 'equal / sampled': `${c.equal}/${c.samples}`, 'rows per answer (mean)': c.meanRows, min: c.minRows, max: c.maxRows,
  })));

  const series: Series[] = CONFIGS.flatMap((c) => [naiveSeries(c, workload, perCall, 'naive'), naiveSeries(c, workload, pooled, 'naive-pooled'), oursSeries(c, workload, clients)]);
  const loadOneStart = loadavg();
  const { figures: one, rounds: roundsRun } = await oneClient(series, WARMUP_ROUNDS, ROUNDS, MIN_ROUNDS, ONE_CLIENT_BUDGET_MS);
  const loadLoadStart = loadavg();
  const many = await closedLoop(series, CLIENTS, LOAD_WARMUP_MS, LOAD_ROUNDS, SLICE_MS);
  const loadEnd = loadavg();

  const rows = series.map((s) => {
    const o = one.get(s)!;
    const m = many.get(s)!;
    const lo = spreadOf(o.latMs, 3);
    const hi = spreadOf(m.latMs, 3);
    return {
      kind: s.kind,
      partitions: s.partitions,
      coordinator: s.coordinator,
      oneClient: { n: lo.n, p50Ms: lo.p50, p99Ms: lo.p99, meanMs: lo.mean, maxMs: lo.max, qps: round(1000 / lo.mean, 1), failed: o.failed, ...(o.firstError ? { firstError: o.firstError } : {}), tcpConnects: o.tcpConnects, channelsCreated: o.channels },
      clients8: { clients: CLIENTS, queries: m.queries, durationMs: Math.round(m.durationMs), qps: round(m.queries / (m.durationMs / 1000), 1), p50Ms: hi.p50, p99Ms: hi.p99, maxMs: hi.max, failed: m.failed, ...(m.firstError ? { firstError: m.firstError } : {}), tcpConnects: m.tcpConnects, channelsCreated: m.channels, slices: m.slices },
    };
  });
  type Row = (typeof rows)[number];
  const find = (c: Config, who: string) => rows.find((r) => r.kind === c.kind && r.partitions === c.partitions && r.coordinator === who)!;
  const ratios = CONFIGS.map((c) => {
    const n = find(c, 'naive');
    const p = find(c, 'naive-pooled');
    const o = find(c, 'ours');
    return {
      kind: c.kind,
      partitions: c.partitions,
      naiveOverOurs: { p50: round(n.oneClient.p50Ms / o.oneClient.p50Ms, 2), p99: round(n.oneClient.p99Ms / o.oneClient.p99Ms, 2), p50At8: round(n.clients8.p50Ms / o.clients8.p50Ms, 2), p99At8: round(n.clients8.p99Ms / o.clients8.p99Ms, 2) },
      oursQpsOverNaive: round(o.clients8.qps / n.clients8.qps, 2),
      naivePooledOverOurs: { p50: round(p.oneClient.p50Ms / o.oneClient.p50Ms, 2), p99: round(p.oneClient.p99Ms / o.oneClient.p99Ms, 2) },
      oursQpsOverNaivePooled: round(o.clients8.qps / p.clients8.qps, 2),
    };
  });

  const fmtRow = (r: Row) => ({
    kind: r.kind,
    parts: r.partitions,
    coordinator: r.coordinator,
    '1c p50 ms': r.oneClient.p50Ms,
    '1c p99 ms': r.oneClient.p99Ms,
    [`${CLIENTS}c q/s`]: r.clients8.qps,
    [`${CLIENTS}c p50 ms`]: r.clients8.p50Ms,
    [`${CLIENTS}c p99 ms`]: r.clients8.p99Ms,
    'TCP conns/query 1c 8c': `${perQuery(r.oneClient.tcpConnects, r.oneClient.n)} ${perQuery(r.clients8.tcpConnects, r.clients8.queries)}`,
    'channels/query 1c 8c': `${perQuery(r.oneClient.channelsCreated, r.oneClient.n)} ${perQuery(r.clients8.channelsCreated, r.clients8.queries)}`,
    'failed 1c 8c': `${r.oneClient.failed} ${r.clients8.failed}`,
  });
  printTable(`naive coordinator vs ours, client-side ms (1c: one in flight, ${roundsRun} each; ${CLIENTS}c: closed loop) (loadavg ${loadEnd.join(' ')})`, rows.map(fmtRow));
  printTable('ratios (naive / ours latency; ours / naive queries/s)', ratios.map((r) => ({
    kind: r.kind, parts: r.partitions,
    '1c p50 naive/ours': r.naiveOverOurs.p50, '1c p99 naive/ours': r.naiveOverOurs.p99,
    [`${CLIENTS}c q/s ours/naive`]: r.oursQpsOverNaive,
    '1c p50 pooled/ours': r.naivePooledOverOurs.p50, [`${CLIENTS}c q/s ours/pooled`]: r.oursQpsOverNaivePooled,
  })));
  console.log(`\nnot measured: ${ABSENT.rows.join(', ')} — ${ABSENT.why}`);

  const path = writeResults('naive.json', `node dist/bench/naive-coordinator.js ${args.join(' ')}`.trim(), {
    quick,
    durationS: round((performance.now() - t0) / 1000, 1),
    loadavg: { start: loadStart, oneClientStart: loadOneStart, loadStart: loadLoadStart, end: loadEnd },
    gatherBackend: backend,
    setup: {
      nodes: NODES,
      replicationFactor: 1,
      spaces: placed.spaces,
      memoriesPerSpace: MEMORIES,
      dimension: DIM,
      associationsPerMemory: EDGES,
      setupS: round(placed.setupMs / 1000, 1),
      queries: { recall: 'naive-0, top-10, embedding cue', spread: 'naive-0, one seed, hops 3, decay 0.15, threshold 0.02', imagine: 'naive-0.., limit 10 per space, embedding cue' },
      cues: CUES,
      coordinators: {
        naive: 'card sketch in the bench process: one call per partition to the owner\'s public ExecuteQuery, new grpc-js client per call (closed after), Promise.all, row-wise results, JS Map merge, deadline 500 ms (1 partition) / 5 s',
        'naive-pooled': 'the same with the card\'s ConnectionPool: one grpc-js client per node, kept',
        ours: 'EngramClient -> n1 ExecuteQuery (n1 owns naive-0, -3, -6, -9): plan, local partitions in-process, the rest over pooled internal channels, columnar answers, native gather',
      },
      hops: { '1 partition': 'all: client -> owner n1', '3 and 10 partitions': 'naive: client -> each owner; ours: client -> n1 -> n2/n3 (n1\'s own partitions in-process)' },
      oneClient: { warmupRounds: WARMUP_ROUNDS, rounds: roundsRun, maxRounds: ROUNDS, minRounds: MIN_ROUNDS, budgetMs: ONE_CLIENT_BUDGET_MS, order: 'every series once per round, order rotating' },
      loaded: { clients: CLIENTS, warmupMsPerSeries: LOAD_WARMUP_MS, rounds: LOAD_ROUNDS, sliceMs: SLICE_MS, order: 'one slice per series per round, order rotating', clientsShareProcess: true },
      tcpConnects: 'connections this process opened while the series ran (diagnostics channel net.client.socket). A new grpc-js channel shares the connection of a live channel with equal target and options, else opens one: naive per-call channels share only with calls of the same coordinator in flight at the same time (naive-pooled uses an option of its own so it lends them none)',
    },
    checks,
    absent: ABSENT,
    rows,
    ratios,
  });
  console.log(`wrote ${path}`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => cleanup());

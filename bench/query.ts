/**
 * Query-path benchmarks (DESIGN §6), side by side in one run:
 *
 *  P4  scatter overhead with the network taken out: a DistributedExecutor over a
 *      StaticClusterView of 10 spaces on 10 members (the coordinator holds none), whose transport
 *      answers at once with a pre-built empty Imagine PartitionResult. Rows: plan + scatter +
 *      gather (execute), plan only (QueryPlanner.plan), scatter only (pre-built plan). tinybench.
 *  P5  intra-partition query through the owner vs a non-owner, on a real 3-node loopback cluster
 *      (node processes, UDP gossip, --replication-factor 1): one space on n1, 1,000 memories ×
 *      64 dims, 5,000 associations; Recall top-10 and Spread, each sent to n1 (owner) and to n2
 *      (non-owner), interleaved query by query (the order flips every iteration), one in flight,
 *      client-side latency with performance.now() around EngramClient.query.
 *      Plus the in-process case: DistributedExecutor whose view says this node holds the space
 *      (`local` runner over a real Engine in a temp dir) vs a direct engine call (tinybench).
 *  P6  connection reuse of the coordinator n2's query pool, from its /metrics
 *      (engram_cluster_connection_calls_total{reused}, engram_cluster_connections_created_total):
 *      over the P5 run, then over a steady load of 8 concurrent clients through n2.
 *
 *   node dist/bench/query.js [--quick] [--out <dir>]        (npm run bench:query)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { LocalCluster, type LocalNode } from '../src/cluster/local-cluster.js';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { StaticClusterView, type Member } from '../src/cluster/cluster-view.js';
import { EngramClient } from '../src/client/engram-client.js';
import { Engine } from '../src/engine/engine.js';
import type { MemoryInput } from '../src/engine/store-batch.js';
import { DistributedExecutor } from '../src/query/distributed-executor.js';
import { answerFromEngine } from '../src/query/engine-partition.js';
import type { PartitionTransport } from '../src/query/remote-partition-client.js';
import type { PartitionAnswer, Query } from '../src/query/types.js';
import type { QueryResult } from '../src/query/result.js';
import { prng } from '../src/util/prng.js';
import { bytesOf, encodeStrings } from '../src/wire/columns.js';
import { partitionToWire } from '../src/wire/partition-codec.js';
import { measure, printTable, writeResults, type Measured } from './common.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');

const TASK_MS = quick ? 300 : 1500;
const MIN_ITERATIONS = quick ? 50 : 200;
const P4_TARGETS = 10;
const MEMORIES = 1_000;
const ASSOCIATIONS = 5_000;
const DIM = 64;
const STORE_BATCH = 250;
const CUES = 64;
const P5_QUERIES = quick ? 200 : 1_000;
const P5_WARMUP = quick ? 20 : 100;
const INTERLEAVED_PAIRS = quick ? 2_000 : 10_000;
const STEADY_CLIENTS = 8;
const STEADY_MS = quick ? 2_000 : 10_000;
const CLUSTER_KEY = 'bench-query-key';
const SPACE = 'p5-bench';

const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Linear-interpolated percentile of `xs` (sorted copy). */
function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

// ---------------------------------------------------------------- data (seeded, same every run)

function randomVector(random: () => number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) v[i] = random() * 2 - 1;
  return v;
}

interface Dataset {
  memories: MemoryInput[];
  associations: { from: string; to: string; weight: number }[];
  cues: Float32Array[];
  seeds: string[];
}

function dataset(): Dataset {
  const random = prng(0x9e3779b9);
  const memories: MemoryInput[] = [];
  for (let i = 0; i < MEMORIES; i++) {
    memories.push({ id: `m${i}`, embedding: randomVector(random, DIM), content: `memory ${i}`, confidence: { lower: 0.4 + 0.5 * random(), upper: 1 } });
  }
  const edges = new Set<string>();
  const associations: Dataset['associations'] = [];
  while (associations.length < ASSOCIATIONS) {
    const from = Math.floor(random() * MEMORIES);
    const to = Math.floor(random() * MEMORIES);
    if (from === to || edges.has(`${from}>${to}`)) continue;
    edges.add(`${from}>${to}`);
    associations.push({ from: `m${from}`, to: `m${to}`, weight: 0.05 + 0.95 * random() });
  }
  const cues = Array.from({ length: CUES }, () => randomVector(random, DIM));
  const seeds = Array.from({ length: CUES }, () => `m${Math.floor(random() * MEMORIES)}`);
  return { memories, associations, cues, seeds };
}

const recallQuery = (d: Dataset, i: number): Query => ({ kind: 'recall', space: SPACE, cue: { embedding: d.cues[i % CUES]! }, limit: 10 });
const spreadQuery = (d: Dataset, i: number): Query => ({ kind: 'spread', space: SPACE, seeds: [d.seeds[i % CUES]!] });

// ---------------------------------------------------------------- P4

function emptyImagine(): PartitionAnswer {
  const none = encodeStrings([]);
  return {
    kind: 'imagine',
    columns: {
      ids: none.blob, idOffsets: none.offsets, confidence: bytesOf(new Float32Array(0)),
      sources: none.blob, sourceOffsets: none.offsets, content: none.blob, contentOffsets: none.offsets,
      embeddings: bytesOf(new Float32Array(0)), dimension: 2,
    },
  };
}

async function p4(): Promise<{ rows: Measured[]; check: string }> {
  const member = (id: string): Member => ({ id, grpcAddress: `${id}:1`, gossipAddress: `${id}:2`, state: 'alive', incarnation: 1 });
  const nodes = Array.from({ length: P4_TARGETS }, (_, i) => `n${i}`);
  const spaces = nodes.map((_, i) => `space${i}`);
  const view = new StaticClusterView({
    self: 'coordinator',
    members: ['coordinator', ...nodes].map(member),
    assignments: spaces.map((space, i) => ({ space, primary: nodes[i]!, replicas: [], dimension: 2, version: i + 1 })),
  });
  const wires = new Map(spaces.map((s) => [s, { ...partitionToWire(s, emptyImagine()), result: 'imagine' }]));
  let calls = 0;
  const transport: PartitionTransport = {
    executeLocal(_address, request) {
      calls++;
      return Promise.resolve(wires.get((request as { partition: string }).partition));
    },
  };
  const executor = new DistributedExecutor({ view, transport, local: () => Promise.reject(new Error('nothing is local in P4')) });
  const query: Query = { kind: 'imagine', spaces, cue: { embedding: new Float32Array([0.6, 0.8]) }, limit: 5 };
  const plan = executor.planner.plan(query);

  // One checked run: all 10 dispatched, all answered, full coverage.
  const r = await executor.execute(query);
  if (calls !== P4_TARGETS || !r.coverage.full || r.coverage.responding !== P4_TARGETS) {
    throw new Error(`P4 setup wrong: ${calls} calls, coverage ${JSON.stringify(r.coverage)}`);
  }
  const check = `${calls} transport calls in the check run, coverage ${r.coverage.responding}/${r.coverage.expected}, ${r.kind === 'imagine' ? r.items.length : -1} items`;
  const rows = await measure(
    [
      ['P4 plan + scatter + gather (execute), 10 targets', () => executor.execute(query)],
      ['P4 plan only (QueryPlanner.plan), 10 targets', () => executor.planner.plan(query)],
      ['P4 scatter only (pre-built plan), 10 targets', () => executor.scatterer.scatter(plan, { query })],
    ],
    { timeMs: TASK_MS, iterations: MIN_ITERATIONS * 5, warmupIterations: 200 },
  );
  return { rows, check };
}

// ---------------------------------------------------------------- P5 in-process

async function p5InProcess(d: Dataset): Promise<{ rows: Measured[]; inter: Record<'recallDirect' | 'recallExecutor' | 'spreadDirect' | 'spreadExecutor', number[]> }> {
  const dir = await mkdtemp(join(os.tmpdir(), 'engram-bench-query-'));
  const engine = await Engine.open(dir);
  try {
    await engine.createSpace(SPACE, DIM);
    for (let s = 0; s < MEMORIES; s += STORE_BATCH) await engine.store(SPACE, { memories: d.memories.slice(s, s + STORE_BATCH) });
    await engine.store(SPACE, { associations: d.associations });
    const self: Member = { id: 'n1', grpcAddress: '127.0.0.1:1', gossipAddress: '127.0.0.1:2', state: 'alive', incarnation: 1 };
    const view = new StaticClusterView({ self: 'n1', members: [self], assignments: [{ space: SPACE, primary: 'n1', replicas: [], dimension: DIM, version: 1 }] });
    const executor = new DistributedExecutor({
      view,
      transport: { executeLocal: () => Promise.reject(new Error('no remote copy in the in-process case')) },
      local: (q, s) => answerFromEngine(engine, q, s),
    });
    const rq = await executor.execute(recallQuery(d, 0));
    const sq = await executor.execute(spreadQuery(d, 0));
    if (rq.kind !== 'recall' || rq.memories.length !== 10 || !rq.coverage.full) throw new Error('in-process recall check failed');
    if (sq.kind !== 'spread' || sq.activations.length === 0) throw new Error('in-process spread check failed');
    let i = 0;
    let j = 0;
    let k = 0;
    let l = 0;
    const rInput = (n: number) => ({ cue: { embedding: d.cues[n % CUES]! }, limit: 10 });
    const sInput = (n: number) => ({ seeds: [d.seeds[n % CUES]!] });
    const rows = await measure(
      [
        ['in-process recall top-10: direct engine.recall', () => engine.recall(SPACE, rInput(i++))],
        ['in-process recall top-10: DistributedExecutor, local copy', () => executor.execute(recallQuery(d, j++))],
        ['in-process spread: direct engine.spread', () => engine.spread(SPACE, sInput(k++))],
        ['in-process spread: DistributedExecutor, local copy', () => executor.execute(spreadQuery(d, l++))],
      ],
      { timeMs: TASK_MS, iterations: MIN_ITERATIONS, warmupIterations: 50 },
    );
    // The same pairs timed call by call, A/B alternating (order flipped every pair), so drift
    // between tinybench's sequential tasks cannot show up as a difference.
    const inter = { recallDirect: [] as number[], recallExecutor: [] as number[], spreadDirect: [] as number[], spreadExecutor: [] as number[] };
    const time = async (fn: () => unknown, into: number[]) => {
      const t0 = performance.now();
      await fn();
      into.push(performance.now() - t0);
    };
    for (let n = 0; n < INTERLEAVED_PAIRS + 200; n++) {
      const warm = n < 200;
      const rd = warm ? [] : inter.recallDirect;
      const re = warm ? [] : inter.recallExecutor;
      const sd = warm ? [] : inter.spreadDirect;
      const se = warm ? [] : inter.spreadExecutor;
      if (n % 2 === 0) {
        await time(() => engine.recall(SPACE, rInput(n)), rd);
        await time(() => executor.execute(recallQuery(d, n)), re);
        await time(() => engine.spread(SPACE, sInput(n)), sd);
        await time(() => executor.execute(spreadQuery(d, n)), se);
      } else {
        await time(() => executor.execute(recallQuery(d, n)), re);
        await time(() => engine.recall(SPACE, rInput(n)), rd);
        await time(() => executor.execute(spreadQuery(d, n)), se);
        await time(() => engine.spread(SPACE, sInput(n)), sd);
      }
    }
    return { rows, inter };
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- cluster, metrics

type BenchNode = LocalNode;

function scrape(address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: address.slice(0, address.lastIndexOf(':')), port: Number(address.slice(address.lastIndexOf(':') + 1)), path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics answered ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('/metrics timed out')));
  });
}

/** Sum of the samples of `name` whose labels include every `label="value"` of `labels`. */
function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const body = m[3] ?? '';
    if (!Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) continue;
    sum += Number(m[4]);
  }
  return sum;
}

/** Mean of a histogram over a window, ms: Δ_sum / Δ_count of the series matching `labels`. */
function histMeanMs(before: string, after: string, name: string, labels: Record<string, string>): { count: number; meanMs: number } {
  const count = metricSum(after, `${name}_count`, labels) - metricSum(before, `${name}_count`, labels);
  const sum = metricSum(after, `${name}_sum`, labels) - metricSum(before, `${name}_sum`, labels);
  return { count, meanMs: count > 0 ? r3((1000 * sum) / count) : NaN };
}

interface PoolCounters { reused: number; fresh: number; created: number }
async function poolCounters(node: BenchNode): Promise<PoolCounters> {
  const text = await scrape(node.proc.metricsAddress);
  return {
    reused: metricSum(text, 'engram_cluster_connection_calls_total', { reused: 'true' }),
    fresh: metricSum(text, 'engram_cluster_connection_calls_total', { reused: 'false' }),
    created: metricSum(text, 'engram_cluster_connections_created_total'),
  };
}
function reuse(before: PoolCounters, after: PoolCounters) {
  const reused = after.reused - before.reused;
  const fresh = after.fresh - before.fresh;
  const total = reused + fresh;
  return { calls: total, reused, notReused: fresh, connectionsCreated: after.created - before.created, ratio: total > 0 ? reused / total : NaN };
}

const resultKey = (r: QueryResult) =>
  r.kind === 'recall' ? r.memories.map((m) => m.id).join(',') : r.kind === 'spread' ? r.activations.map((a) => `${a.id}:${a.activation.toFixed(5)}`).join(',') : '';

interface P5Cluster {
  samples: Record<'recallOwner' | 'recallNonOwner' | 'recallClient' | 'spreadOwner' | 'spreadNonOwner' | 'spreadClient', number[]>;
  poolDuringP5: ReturnType<typeof reuse>;
  /** Server-side means over the P5 window, from the nodes' own histograms. */
  breakdown: Record<string, { count: number; meanMs: number }>;
  steady: ReturnType<typeof reuse> & { clients: number; durationMs: number; queries: number; qps: number; p50Ms: number; p99Ms: number };
  poolCumulative: PoolCounters;
  recallRows: number;
  spreadRows: number;
  loadavg: number[];
}

async function p5Cluster(d: Dataset): Promise<P5Cluster> {
  const cluster = new LocalCluster({ clusterKey: CLUSTER_KEY, metrics: true, extraArgs: ['--replication-factor', '1'], prefix: 'engram-bench-query-cluster-' });
  const until = cluster.until.bind(cluster);
  const extraClients: EngramClient[] = [];
  try {
    await cluster.start(3);
    const [n1, n2] = [cluster.node('n1'), cluster.node('n2')];
    await n1.client.createSpace(SPACE, { dimension: DIM, primary: 'n1', replicas: [] });
    for (let s = 0; s < MEMORIES; s += STORE_BATCH) await n1.client.store(SPACE, { memories: d.memories.slice(s, s + STORE_BATCH) });
    await n1.client.store(SPACE, { associations: d.associations });
    const st = (await n1.client.status()).spaces.find((s) => s.id === SPACE);
    if (st?.memories !== MEMORIES || st.associations !== ASSOCIATIONS) throw new Error(`n1 holds ${JSON.stringify(st)}`);
    const a2 = await until('n2 to see the assignment', 20_000, async () => (await n2.client.status()).assignments.find((a) => a.space === SPACE));
    if (a2.primary !== 'n1' || a2.replicas.length !== 0) throw new Error(`unexpected assignment ${JSON.stringify(a2)}`);
    if ((await n2.client.status()).spaces.some((s) => s.id === SPACE)) throw new Error('n2 holds a copy of the space: not a non-owner');

    // Same answer through both coordinators; then warm both paths (JIT, pooled channel).
    const ro = await n1.client.query(recallQuery(d, 0));
    const rn = await n2.client.query(recallQuery(d, 0));
    const so = await n1.client.query(spreadQuery(d, 0));
    const sn = await n2.client.query(spreadQuery(d, 0));
    if (resultKey(ro) !== resultKey(rn) || resultKey(so) !== resultKey(sn)) throw new Error('owner and non-owner answers differ');
    if (ro.kind !== 'recall' || ro.memories.length !== 10 || !rn.coverage.full || rn.coverage.partitions[0]?.node !== 'n1') throw new Error(`recall check failed: ${JSON.stringify(rn.coverage)}`);
    const recallRows = ro.memories.length;
    const spreadRows = so.kind === 'spread' ? so.activations.length : 0;
    // The owner-aware client knows only n2 and learns that n1 holds the space: it skips the hop.
    const ownerAware = new EngramClient({ nodes: [n2.proc.grpcAddress], deadlineMs: 10_000, routing: 'owner' });
    extraClients.push(ownerAware);
    const rc = await ownerAware.query(recallQuery(d, 0));
    if (resultKey(rc) !== resultKey(ro)) throw new Error('owner-aware client answer differs');
    for (let i = 0; i < P5_WARMUP; i++) {
      for (const c of [n1.client, n2.client, ownerAware]) {
        await c.query(recallQuery(d, i));
        await c.query(spreadQuery(d, i));
      }
    }
    const viaN1Before = await scrape(n1.proc.metricsAddress);
    await ownerAware.query(recallQuery(d, 1));
    const direct = histMeanMs(viaN1Before, await scrape(n1.proc.metricsAddress), 'engram_rpc_duration_seconds', { method: 'ExecuteQuery', code: 'OK' });
    if (direct.count !== 1) throw new Error('the owner-aware client did not reach n1 directly');

    const samples: P5Cluster['samples'] = { recallOwner: [], recallNonOwner: [], recallClient: [], spreadOwner: [], spreadNonOwner: [], spreadClient: [] };
    const timed = async (client: EngramClient, q: Query, into: number[]) => {
      const t0 = performance.now();
      const r = await client.query(q);
      into.push(performance.now() - t0);
      if (!r.coverage.full) throw new Error('partial answer during P5');
    };
    const before = await poolCounters(n2);
    const [m1Before, m2Before] = [await scrape(n1.proc.metricsAddress), await scrape(n2.proc.metricsAddress)];
    for (let i = 0; i < P5_QUERIES; i++) {
      // The three paths take turns, and which goes first rotates every iteration, to cancel drift and ordering.
      const paths: [EngramClient, number[], number[]][] = [
        [n1.client, samples.recallOwner, samples.spreadOwner],
        [n2.client, samples.recallNonOwner, samples.spreadNonOwner],
        [ownerAware, samples.recallClient, samples.spreadClient],
      ];
      for (let k = 0; k < 3; k++) {
        const [client, recalls] = paths[(i + k) % 3]!;
        await timed(client, recallQuery(d, i), recalls);
      }
      for (let k = 0; k < 3; k++) {
        const [client, , spreads] = paths[(i + k) % 3]!;
        await timed(client, spreadQuery(d, i), spreads);
      }
    }
    const afterP5 = await poolCounters(n2);
    const [m1After, m2After] = [await scrape(n1.proc.metricsAddress), await scrape(n2.proc.metricsAddress)];
    const breakdown = {
      'n1 serves ExecuteQuery (owner path)': histMeanMs(m1Before, m1After, 'engram_rpc_duration_seconds', { method: 'ExecuteQuery', code: 'OK' }),
      'n1 serves ExecuteLocal (for n2)': histMeanMs(m1Before, m1After, 'engram_rpc_duration_seconds', { method: 'ExecuteLocal', code: 'OK' }),
      'n2 partition call to n1 (pool round trip)': histMeanMs(m2Before, m2After, 'engram_cluster_query_partition_duration_seconds', { target_node: 'n1', status: 'ok' }),
      'n2 serves ExecuteQuery (non-owner path)': histMeanMs(m2Before, m2After, 'engram_rpc_duration_seconds', { method: 'ExecuteQuery', code: 'OK' }),
    };
    const loadavg = load();

    // P6 steady load: 8 concurrent clients (own channels) through n2.
    for (let c = 0; c < STEADY_CLIENTS; c++) extraClients.push(new EngramClient({ nodes: [n2.proc.grpcAddress], deadlineMs: 10_000, routing: 'any' }));
    await Promise.all(extraClients.map((c) => c.status()));
    const steadyBefore = await poolCounters(n2);
    const lat: number[] = [];
    const t0 = performance.now();
    const end = t0 + STEADY_MS;
    await Promise.all(
      extraClients.map(async (c, ci) => {
        for (let i = ci; performance.now() < end; i += STEADY_CLIENTS) {
          const q = i % 2 === 0 ? recallQuery(d, i) : spreadQuery(d, i);
          const s = performance.now();
          await c.query(q);
          lat.push(performance.now() - s);
        }
      }),
    );
    const durationMs = performance.now() - t0;
    const steadyAfter = await poolCounters(n2);
    return {
      samples,
      poolDuringP5: reuse(before, afterP5),
      breakdown,
      steady: { ...reuse(steadyBefore, steadyAfter), clients: STEADY_CLIENTS, durationMs: Math.round(durationMs), queries: lat.length, qps: Math.round(lat.length / (durationMs / 1000)), p50Ms: r3(pct(lat, 50)), p99Ms: r3(pct(lat, 99)) },
      poolCumulative: steadyAfter,
      recallRows,
      spreadRows,
      loadavg,
    };
  } finally {
    for (const c of extraClients) c.close();
    await cluster.stop();
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = performance.now();
  const loadStart = load();
  console.log(`query bench (${quick ? 'quick' : 'full'}): loadavg at start ${loadStart.join(' ')} (${os.cpus().length} cpus)`);
  const d = dataset();

  console.log('  P4 scatter overhead (fake transport answering at once)…');
  const p4r = await p4();
  const loadP4 = load();
  console.log(`  P4 check: ${p4r.check}; loadavg ${loadP4.join(' ')}`);

  console.log(`  P5 in-process (${MEMORIES} memories x ${DIM} dims, ${ASSOCIATIONS} associations)…`);
  const inproc = await p5InProcess(d);
  const loadInproc = load();

  console.log(`  P5/P6 on a 3-node loopback cluster (${P5_QUERIES} Recall + ${P5_QUERIES} Spread per side, then ${STEADY_CLIENTS} clients x ${STEADY_MS / 1000} s)…`);
  const cl = await p5Cluster(d);

  // ---- tables
  printTable(`P4 scatter overhead, 10 spaces on 10 members, transport answers at once (loadavg ${loadP4.join(' ')})`, p4r.rows.map((r) => ({
    task: r.name, 'p50 ms': r.p50, 'p99 ms': r.p99, 'mean ms': r.mean, samples: r.samples,
  })));

  const r4 = (x: number) => Math.round(x * 10_000) / 10_000;
  const stats = (xs: number[]) => ({ p50: r4(pct(xs, 50)), p99: r4(pct(xs, 99)), mean: r4(xs.reduce((a, b) => a + b, 0) / xs.length), n: xs.length });
  const s = cl.samples;
  const p5 = {
    recall: { owner: stats(s.recallOwner), nonOwner: stats(s.recallNonOwner), client: stats(s.recallClient) },
    spread: { owner: stats(s.spreadOwner), nonOwner: stats(s.spreadNonOwner), client: stats(s.spreadClient) },
  };
  const ratios = {
    recall: { p50: r3(p5.recall.nonOwner.p50 / p5.recall.owner.p50), p99: r3(p5.recall.nonOwner.p99 / p5.recall.owner.p99) },
    spread: { p50: r3(p5.spread.nonOwner.p50 / p5.spread.owner.p50), p99: r3(p5.spread.nonOwner.p99 / p5.spread.owner.p99) },
  };
  const clientRatios = {
    recall: { p50: r3(p5.recall.client.p50 / p5.recall.owner.p50), p99: r3(p5.recall.client.p99 / p5.recall.owner.p99) },
    spread: { p50: r3(p5.spread.client.p50 / p5.spread.owner.p50), p99: r3(p5.spread.client.p99 / p5.spread.owner.p99) },
  };
  printTable(`P5 owner vs non-owner vs owner-aware client, client-side ms, 1 in flight, interleaved (recall returns ${cl.recallRows} rows, spread ${cl.spreadRows}; loadavg ${cl.loadavg.join(' ')})`, (['recall', 'spread'] as const).map((k) => ({
    query: k === 'recall' ? 'Recall top-10' : 'Spread 1 seed',
    'owner p50': p5[k].owner.p50, 'owner p99': p5[k].owner.p99,
    'non-owner p50': p5[k].nonOwner.p50, 'non-owner p99': p5[k].nonOwner.p99,
    'client p50': p5[k].client.p50, 'client p99': p5[k].client.p99,
    'non-owner/owner p50': ratios[k].p50, 'p99': ratios[k].p99,
    'client/owner p50': clientRatios[k].p50, 'p99 ': clientRatios[k].p99,
    n: p5[k].owner.n,
  })));

  printTable(`P5 non-owner breakdown: server-side means over the P5 window (nodes' own histograms, ms)`, Object.entries(cl.breakdown).map(([what, b]) => ({ what, calls: b.count, 'mean ms': b.meanMs })));

  const [dr, er, ds, es] = inproc.rows as [Measured, Measured, Measured, Measured];
  const tinyDiff = { recallP50Ms: r3(er.p50 - dr.p50), spreadP50Ms: r3(es.p50 - ds.p50) };
  printTable(`P5 in-process: owner as coordinator vs a direct engine call (tinybench, tasks in sequence; loadavg ${loadInproc.join(' ')})`, [
    ...inproc.rows.map((r) => ({ task: r.name, 'p50 ms': r.p50, 'p99 ms': r.p99, 'mean ms': r.mean, samples: r.samples, 'p50 diff ms': '' as string | number })),
  ].map((row, i) => (i % 2 === 1 ? { ...row, 'p50 diff ms': i === 1 ? tinyDiff.recallP50Ms : tinyDiff.spreadP50Ms } : row)));
  const iv = inproc.inter;
  const inter = {
    recall: { direct: stats(iv.recallDirect), executor: stats(iv.recallExecutor) },
    spread: { direct: stats(iv.spreadDirect), executor: stats(iv.spreadExecutor) },
  };
  const inprocDiff = { recallP50Ms: r4(inter.recall.executor.p50 - inter.recall.direct.p50), spreadP50Ms: r4(inter.spread.executor.p50 - inter.spread.direct.p50) };
  printTable(`P5 in-process, interleaved call by call (${INTERLEAVED_PAIRS} pairs, performance.now(); the figure used for the target)`, [
    { query: 'Recall top-10', 'direct p50': inter.recall.direct.p50, 'direct p99': inter.recall.direct.p99, 'executor p50': inter.recall.executor.p50, 'executor p99': inter.recall.executor.p99, 'p50 diff ms': inprocDiff.recallP50Ms },
    { query: `Spread 1 seed (${cl.spreadRows} rows)`, 'direct p50': inter.spread.direct.p50, 'direct p99': inter.spread.direct.p99, 'executor p50': inter.spread.executor.p50, 'executor p99': inter.spread.executor.p99, 'p50 diff ms': inprocDiff.spreadP50Ms },
  ]);

  printTable('P6 connection reuse, coordinator n2 (/metrics engram_cluster_connection_calls_total{reused}, engram_cluster_connections_created_total)', [
    { phase: `P5 run (${P5_QUERIES * 2} non-owner queries)`, calls: cl.poolDuringP5.calls, reused: cl.poolDuringP5.reused, 'not reused': cl.poolDuringP5.notReused, 'conns created': cl.poolDuringP5.connectionsCreated, 'reuse %': r3(100 * cl.poolDuringP5.ratio) },
    { phase: `steady: ${STEADY_CLIENTS} clients x ${cl.steady.durationMs} ms`, calls: cl.steady.calls, reused: cl.steady.reused, 'not reused': cl.steady.notReused, 'conns created': cl.steady.connectionsCreated, 'reuse %': r3(100 * cl.steady.ratio) },
    { phase: 'cumulative since n2 started', calls: cl.poolCumulative.reused + cl.poolCumulative.fresh, reused: cl.poolCumulative.reused, 'not reused': cl.poolCumulative.fresh, 'conns created': cl.poolCumulative.created, 'reuse %': r3((100 * cl.poolCumulative.reused) / (cl.poolCumulative.reused + cl.poolCumulative.fresh)) },
  ]);
  console.log(`  steady load: ${cl.steady.queries} queries, ${cl.steady.qps}/s, client p50 ${cl.steady.p50Ms} ms, p99 ${cl.steady.p99Ms} ms`);

  const [p4all, p4plan, p4scatter] = p4r.rows as [Measured, Measured, Measured];
  const worstRatio = Math.max(ratios.recall.p50, ratios.recall.p99, ratios.spread.p50, ratios.spread.p99);
  const worstClientRatio = Math.max(clientRatios.recall.p50, clientRatios.recall.p99, clientRatios.spread.p50, clientRatios.spread.p99);
  const worstDiff = Math.max(inprocDiff.recallP50Ms, inprocDiff.spreadP50Ms);
  const targets = {
    P4: { what: 'plan + scatter (+ gather of empty answers) to 10 targets, network excluded, p50', p50Ms: p4all.p50, p99Ms: p4all.p99, target: '< 1 ms', goal: '<= 0.2 ms', targetMet: p4all.p50 < 1, goalMet: p4all.p50 <= 0.2 },
    P5: {
      what: 'non-owner / owner latency, p50 and p99, Recall and Spread (worst of the four ratios); owner-aware client / owner (worst of four); owner-as-coordinator minus direct engine call, p50',
      worstRatio, worstClientRatio, inProcessDiffMs: worstDiff,
      target: '< 2x', goal: '<= 1.5x; client <= 1.1x; in-process difference <= 0.05 ms',
      targetMet: worstRatio < 2, goalMet: worstRatio <= 1.5 && worstClientRatio <= 1.1 && worstDiff <= 0.05,
    },
    P6: {
      what: 'connection reuse of the coordinator pool under steady load (reused / total calls)',
      ratio: cl.steady.ratio, target: '> 95%', goal: '>= 99.9%', targetMet: cl.steady.ratio > 0.95, goalMet: cl.steady.ratio >= 0.999,
    },
  };
  printTable('targets (DESIGN §6)', [
    { id: 'P4', figure: `${r3(p4all.p50)} ms p50 (${r3(p4all.p99)} p99)`, target: targets.P4.target, goal: targets.P4.goal, 'target met': targets.P4.targetMet, 'goal met': targets.P4.goalMet },
    { id: 'P5', figure: `worst ratio ${worstRatio}x; client ${worstClientRatio}x; in-process +${worstDiff} ms`, target: targets.P5.target, goal: targets.P5.goal, 'target met': targets.P5.targetMet, 'goal met': targets.P5.goalMet },
    { id: 'P6', figure: `${r3(100 * cl.steady.ratio)}% reused`, target: targets.P6.target, goal: targets.P6.goal, 'target met': targets.P6.targetMet, 'goal met': targets.P6.goalMet },
  ]);
  const loadEnd = load();
  const durationS = Math.round((performance.now() - started) / 100) / 10;
  console.log(`\nloadavg at end ${loadEnd.join(' ')}; total ${durationS} s`);

  const path = writeResults('query.json', `npm run bench:query${quick ? ' -- --quick' : ''}`, {
    quick,
    durationS,
    loadavg: { start: loadStart, afterP4: loadP4, afterInProcess: loadInproc, afterClusterP5: cl.loadavg, end: loadEnd },
    data: { memories: MEMORIES, dimension: DIM, associations: ASSOCIATIONS, recallRows: cl.recallRows, spreadRowsFromOneSeed: cl.spreadRows, p5QueriesPerSide: P5_QUERIES, p4Targets: P4_TARGETS },
    targets,
    p4: { rows: p4r.rows, planOnly: p4plan, scatterOnly: p4scatter, check: p4r.check },
    p5: {
      cluster: {
        note: '3 node processes on 127.0.0.1, --replication-factor 1, space on n1; owner = n1, non-owner = n2, client = an owner-aware EngramClient given only n2; client-side ms, 1 in flight, interleaved',
        ...p5,
        ratios,
        clientRatios,
        /** Every client-side latency of the run, ms, in run order (the distributions of docs/performance.md). */
        samplesMs: Object.fromEntries(Object.entries(s).map(([k, xs]) => [k, xs.map(r4)])),
      },
      nonOwnerBreakdownMeanMs: cl.breakdown,
      inProcess: {
        interleaved: { pairs: INTERLEAVED_PAIRS, ...inter, p50DiffMs: inprocDiff },
        tinybench: { rows: inproc.rows, p50DiffMs: tinyDiff },
      },
    },
    p6: { coordinator: 'n2', duringP5: cl.poolDuringP5, steady: cl.steady, cumulative: cl.poolCumulative },
  });
  console.log(`wrote ${path}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

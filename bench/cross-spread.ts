/**
 * A Spread over several spaces (issue 15, DESIGN §10) against the one-space Spread over the
 * union of their graphs, side by side in one run.
 *
 * 10 spaces × 10,000 memories, 5 associations per memory, 5% of them to a memory of another
 * space; one copy per space on n1..n4 (spaces i → n(i mod 4 + 1)); n5 holds none and coordinates.
 * The union graph (every memory as SPACE/ID in one space, every association with it) is on n5.
 * Each query: 5 random seeds, 3 hops, decay 0.15, threshold 0.02, one query in flight, the two
 * paths interleaved query by query through n5:
 *
 *   across   Spread over the 10 spaces: rounds of scatter to n1..n4 and pulse merges on n5
 *   union    Spread over the union graph: n5's own engine, no network hop past the client's
 *
 * Reported: client-side p50 / p99 / mean, rounds per query, pulse bytes moved per query (n5's
 * engram_cluster_spread_pulse_bytes_total: frontiers, arriving pulses and seeds sent; reached
 * memories and leaving pulses received), and the share of n5's query time spent in the pulse
 * sum merges (engram_cluster_spread_merge_seconds_total over
 * engram_cluster_query_duration_seconds_sum). The first queries' answers are checked equal to
 * the union graph's (to 1e-6): a benchmark of a wrong answer is worth nothing.
 *
 *   node dist/bench/cross-spread.js [--quick] [--out <dir | file.json>]   (npm run bench:cross-spread)
 */
import { LocalCluster } from '../src/cluster/local-cluster.js';
import type { EngramClient } from '../src/client/engram-client.js';
import type { Activation } from '../src/query/result.js';
import { prng } from '../src/util/prng.js';
import { loadavg, pct, printTable, round, writeResults } from './common.js';

const quick = process.argv.includes('--quick');
const SPACES = 10;
const MEMORIES = quick ? 2_000 : 10_000;
const EDGES_PER_MEMORY = 5;
const CROSS_SHARE = 0.05;
const DIM = 8;
const HOPS = 3;
const SEEDS = 5;
const QUERIES = quick ? 60 : 400;
const WARMUP = quick ? 10 : 40;
const CHECKED = quick ? 10 : 30;
const DATA_NODES = ['n1', 'n2', 'n3', 'n4'] as const;
const UNION = 'union-graph';

interface Edge { from: string; to: string; toSpace?: string; weight: number }

const spaceName = (i: number) => `cs-${String(i).padStart(2, '0')}`;

/** Every space's associations: 5 per memory, 5% to a random memory of another space. */
function graph(rnd: () => number): Edge[][] {
  return Array.from({ length: SPACES }, (_, s) => {
    const edges: Edge[] = [];
    for (let m = 0; m < MEMORIES; m++) {
      for (let e = 0; e < EDGES_PER_MEMORY; e++) {
        const weight = Math.fround(0.1 + 0.9 * rnd());
        const to = `m${Math.floor(rnd() * MEMORIES)}`;
        if (rnd() < CROSS_SHARE) {
          let t = Math.floor(rnd() * (SPACES - 1));
          if (t >= s) t++;
          edges.push({ from: `m${m}`, to, toSpace: spaceName(t), weight });
        } else edges.push({ from: `m${m}`, to, weight });
      }
    }
    return edges;
  });
}

const embedding = (i: number) => Array.from({ length: DIM }, (_, d) => Math.sin(i * 7.1 + d));

async function load(client: EngramClient, space: string, ids: string[], edges: Edge[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 5_000) {
    await client.store(space, { memories: ids.slice(i, i + 5_000).map((id, k) => ({ id, embedding: embedding(i + k) })) });
  }
  for (let i = 0; i < edges.length; i += 50_000) await client.store(space, { associations: edges.slice(i, i + 50_000), ack: 'all' });
}

async function scrape(address: string): Promise<string> {
  return (await fetch(`http://${address}/metrics`)).text();
}
/** A sample of `name` whose labels include `labels` (prom-client orders labels its own way). */
function value(body: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of body.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m && m[1] === name && want.every((w) => m[2]!.split(',').includes(w))) return Number(m[3]);
  }
  return 0;
}
const n5Metrics = (body: string) => ({
  sent: value(body, 'engram_cluster_spread_pulse_bytes_total', { direction: 'sent' }),
  received: value(body, 'engram_cluster_spread_pulse_bytes_total', { direction: 'received' }),
  mergeS: value(body, 'engram_cluster_spread_merge_seconds_total', {}),
  querySumS: value(body, 'engram_cluster_query_duration_seconds_sum', { strategy: 'multi' }),
});

function check(across: Activation[], union: Activation[], i: number): void {
  const want = new Map(union.map((a) => [a.id, a.activation]));
  if (across.length !== want.size) throw new Error(`query ${i}: ${across.length} activations across the spaces, ${want.size} over the union graph`);
  for (const a of across) {
    const w = want.get(`${a.space}/${a.id}`);
    if (w === undefined || Math.abs(w - a.activation) > 1e-6) throw new Error(`query ${i}: ${a.space}/${a.id} is ${a.activation}, the union graph gives ${w}`);
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadStart = loadavg();
  console.log(`cross-spread bench (${quick ? 'quick' : 'full'}): ${SPACES} spaces × ${MEMORIES} memories, ${QUERIES} queries per path; loadavg ${loadStart.join(' ')}`);
  const cluster = new LocalCluster({ clusterKey: 'bench-cross-spread', metrics: true, extraArgs: ['--rebalance', 'off'], prefix: 'engram-bench-cross-spread-' });
  try {
    await cluster.start(5);
    await cluster.waitConverged();
    const rnd = prng(0xc05e);
    const edges = graph(rnd);
    const ids = Array.from({ length: MEMORIES }, (_, i) => `m${i}`);
    const spaces = Array.from({ length: SPACES }, (_, i) => spaceName(i));
    console.log('  loading the spaces…');
    for (const [i, space] of spaces.entries()) {
      const primary = DATA_NODES[i % DATA_NODES.length]!;
      const client = cluster.node(primary).client;
      await client.createSpace(space, { dimension: DIM, primary, copies: 1 });
      await load(client, space, ids, edges[i]!);
    }
    console.log('  loading the union graph…');
    const n5 = cluster.node('n5').client;
    await n5.createSpace(UNION, { dimension: DIM, primary: 'n5', copies: 1 });
    await load(n5, UNION, spaces.flatMap((s) => ids.map((id) => `${s}/${id}`)), edges.flatMap((list, s) => list.map((e) => ({
      from: `${spaceName(s)}/${e.from}`, to: `${e.toSpace ?? spaceName(s)}/${e.to}`, weight: e.weight,
    }))));
    await cluster.until('n5 to see every space', 30_000, async () => ((await n5.status()).assignments.length === SPACES + 1 ? true : undefined));

    const seedsOf = (q: number) => {
      const r = prng(0x5eed + q);
      return Array.from({ length: SEEDS }, () => `${spaceName(Math.floor(r() * SPACES))}/m${Math.floor(r() * MEMORIES)}`);
    };
    const lat = { across: [] as number[], union: [] as number[] };
    const unionEngineMs: number[] = [];
    const rounds: number[] = [];
    let activations = 0;
    let before = n5Metrics(await scrape(cluster.node('n5').proc.metricsAddress));
    for (let q = -WARMUP; q < QUERIES; q++) {
      if (q === 0) before = n5Metrics(await scrape(cluster.node('n5').proc.metricsAddress));
      const seeds = seedsOf(q + WARMUP);
      // Which path goes first alternates, so drift and ordering hit both alike.
      const order = q % 2 === 0 ? (['across', 'union'] as const) : (['union', 'across'] as const);
      const answers: Partial<Record<'across' | 'union', Activation[]>> = {};
      for (const path of order) {
        const t0 = performance.now();
        const r = path === 'across'
          ? await n5.query({ kind: 'spread', spaces, seeds, hops: HOPS }, { timeoutMs: 10_000 })
          : await n5.query({ kind: 'spread', space: UNION, seeds, hops: HOPS }, { timeoutMs: 10_000 });
        const ms = performance.now() - t0;
        if (!r.coverage.full) throw new Error(`${path}: partial answer ${JSON.stringify(r.coverage)}`);
        answers[path] = r.activations;
        if (q < 0) continue;
        lat[path].push(ms);
        if (path === 'across') {
          rounds.push(r.coverage.rounds ?? 0);
          activations += r.activations.length;
        } else unionEngineMs.push(r.coverage.partitions[0]!.latencyMs);
      }
      if (q >= 0 && q < CHECKED) check(answers.across!, answers.union!, q);
    }
    const after = n5Metrics(await scrape(cluster.node('n5').proc.metricsAddress));
    const loadEnd = loadavg();

    const stats = (xs: number[]) => ({ p50: round(pct(xs, 50), 3), p99: round(pct(xs, 99), 3), mean: round(xs.reduce((a, b) => a + b, 0) / xs.length, 3), n: xs.length });
    const across = stats(lat.across);
    const union = stats(lat.union);
    const bytesSent = (after.sent - before.sent) / QUERIES;
    const bytesReceived = (after.received - before.received) / QUERIES;
    // The coordinator's query time of the Spreads across (the union path is strategy "single").
    const mergeShare = (after.mergeS - before.mergeS) / (after.querySumS - before.querySumS);
    const result = {
      across: { ...across, roundsMean: round(rounds.reduce((a, b) => a + b, 0) / rounds.length, 2), roundsMax: Math.max(...rounds), activationsMean: round(activations / QUERIES, 1), bytesSentPerQuery: Math.round(bytesSent), bytesReceivedPerQuery: Math.round(bytesReceived), mergeMsPerQuery: round((1000 * (after.mergeS - before.mergeS)) / QUERIES, 3), mergeShare: round(mergeShare, 4) },
      union: { ...union, engineP50: round(pct(unionEngineMs, 50), 3), engineP99: round(pct(unionEngineMs, 99), 3) },
      ratio: { p50: round(across.p50 / union.p50, 3), p99: round(across.p99 / union.p99, 3) },
      checkedEqual: CHECKED,
    };
    printTable(`Spread, ${SEEDS} seeds, ${HOPS} hops, client-side ms through n5, 1 in flight (loadavg ${loadStart.join(' ')} → ${loadEnd.join(' ')})`, [
      { path: `across ${SPACES} spaces on 4 nodes`, p50: across.p50, p99: across.p99, mean: across.mean, rounds: result.across.roundsMean, 'pulse KB sent/recv': `${round(bytesSent / 1024, 1)} / ${round(bytesReceived / 1024, 1)}`, 'merge share': `${round(100 * mergeShare, 2)}%` },
      { path: 'union graph, one space on n5', p50: union.p50, p99: union.p99, mean: union.mean, rounds: 1, 'pulse KB sent/recv': '-', 'merge share': '-' },
    ]);
    console.log(`\nacross/union: p50 ${result.ratio.p50}x, p99 ${result.ratio.p99}x; ${result.across.activationsMean} activations per answer; union engine alone p50 ${result.union.engineP50} ms; the first ${CHECKED} answers equal the union graph's to 1e-6`);
    const path = writeResults('cross-spread.json', `npm run bench:cross-spread${quick ? ' -- --quick' : ''}`, {
      quick,
      durationS: round((performance.now() - started) / 1000, 1),
      loadavg: { start: loadStart, end: loadEnd },
      setup: { spaces: SPACES, memoriesPerSpace: MEMORIES, edgesPerMemory: EDGES_PER_MEMORY, crossShare: CROSS_SHARE, hops: HOPS, seeds: SEEDS, dataNodes: DATA_NODES.length, coordinator: 'n5', copies: 1, queries: QUERIES },
      ...result,
    });
    console.log(`wrote ${path}`);
  } finally {
    await cluster.stop();
  }
}

await main();

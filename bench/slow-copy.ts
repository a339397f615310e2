/**
 * One slow copy (issue 13, DESIGN §8): 3 copies of a space on n1..n3, and three coordinators that
 * hold none, each with its own copy choice:
 *
 *   fixed    --copy-ranking off --hedge-budget 0   the plan's order: the primary (n1) first
 *   ranked   --hedge-budget 0                      copies ordered by measured rank (C3 / ARS)
 *   hedged   (defaults)                            ranked, plus hedged requests with a 5% budget
 *
 * Recall top-10 (1,000 memories × 64 dims) through each coordinator, one in flight, the three
 * interleaved query by query, first with no fault, then with n1 delaying 10% of its answers by
 * 50 ms (the test-only fault switch: SetFault delay_ms 50, delay_probability 0.1). Reported:
 * client-side p50 / p99 / p99.9 per coordinator and phase, the extra calls hedging sent (from the
 * coordinator's engram_cluster_query_hedges_total), and the share of answers each copy gave.
 * Goal: with ranking + hedging, p99 under the fault within 1.5× the no-fault p99, ≤ 5% extra calls.
 *
 *   node dist/bench/slow-copy.js [--quick] [--out <dir | file.json>]     (npm run bench:slow-copy)
 */
import { LocalCluster } from '../src/cluster/local-cluster.js';
import type { EngramClient } from '../src/client/engram-client.js';
import { cues, memories } from './cluster-data.js';
import { loadavg, pct, printTable, round, writeResults } from './common.js';

const quick = process.argv.includes('--quick');
const DIM = 64;
const MEMORIES = 1_000;
const QUERIES = quick ? 300 : 4_000;
const WARMUP = quick ? 50 : 300;
const SPACE = 'slow-copy';
const DELAY_MS = 50;
const DELAY_PROBABILITY = 0.1;

const COORDINATORS = {
  fixed: ['--copy-ranking', 'off', '--hedge-budget', '0'],
  ranked: ['--hedge-budget', '0'],
  hedged: [],
} as const;
type Mode = keyof typeof COORDINATORS;
const MODES = Object.keys(COORDINATORS) as Mode[];

async function scrape(address: string): Promise<string> {
  return (await fetch(`http://${address}/metrics`)).text();
}
function counter(body: string, re: RegExp): number {
  const m = re.exec(body);
  return m ? Number(m[1]) : 0;
}

interface Phase {
  latMs: Record<Mode, number[]>;
  answeredBy: Record<Mode, Record<string, number>>;
  hedges: Record<Mode, { sent: number; won: number }>;
  loadavg: number[];
}

async function phase(cluster: LocalCluster, clients: Record<Mode, EngramClient>, qs: Float32Array[], n: number): Promise<Phase> {
  const before = Object.fromEntries(await Promise.all(MODES.map(async (m) => [m, await scrape(cluster.node(m).proc.metricsAddress)] as const))) as Record<Mode, string>;
  const latMs = { fixed: [], ranked: [], hedged: [] } as Record<Mode, number[]>;
  const answeredBy = { fixed: {}, ranked: {}, hedged: {} } as Record<Mode, Record<string, number>>;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < MODES.length; k++) {
      // Which coordinator goes first rotates, so drift and ordering hit all three alike.
      const mode = MODES[(i + k) % MODES.length]!;
      const t0 = performance.now();
      const r = await clients[mode].query({ kind: 'recall', space: SPACE, cue: { embedding: qs[i % qs.length]! }, limit: 10 }, { timeoutMs: 2_000 });
      latMs[mode].push(performance.now() - t0);
      if (!r.coverage.full) throw new Error(`${mode}: partial answer ${JSON.stringify(r.coverage)}`);
      const by = r.coverage.partitions[0]!.node;
      answeredBy[mode][by] = (answeredBy[mode][by] ?? 0) + 1;
    }
  }
  const hedges = {} as Record<Mode, { sent: number; won: number }>;
  for (const m of MODES) {
    const after = await scrape(cluster.node(m).proc.metricsAddress);
    const c = (body: string, event: string) => counter(body, new RegExp(`engram_cluster_query_hedges_total\\{event="${event}",node="${m}"\\} (\\d+)`));
    hedges[m] = { sent: c(after, 'sent') - c(before[m], 'sent'), won: c(after, 'won') - c(before[m], 'won') };
  }
  return { latMs, answeredBy, hedges, loadavg: loadavg() };
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadStart = loadavg();
  console.log(`slow-copy bench (${quick ? 'quick' : 'full'}): ${QUERIES} queries per coordinator per phase; loadavg ${loadStart.join(' ')}`);
  const cluster = new LocalCluster({ clusterKey: 'bench-slow-copy', metrics: true, faults: true, extraArgs: ['--rebalance', 'off'], prefix: 'engram-bench-slow-copy-' });
  try {
    await cluster.start(3);
    for (const [mode, args] of Object.entries(COORDINATORS)) await cluster.startNode(mode, { extraArgs: [...args] });
    await cluster.waitConverged();
    const n1 = cluster.node('n1').client;
    await n1.createSpace(SPACE, { dimension: DIM, primary: 'n1', replicas: ['n2', 'n3'] });
    const ms = memories(0x5eed, MEMORIES, DIM);
    for (let s = 0; s < ms.length; s += 250) await n1.store(SPACE, { memories: ms.slice(s, s + 250), ack: 'all' });
    const clients = Object.fromEntries(MODES.map((m) => [m, cluster.node(m).client])) as Record<Mode, EngramClient>;
    await cluster.until('every coordinator to see the space', 30_000, async () => {
      const seen = await Promise.all(MODES.map(async (m) => (await clients[m].status()).assignments.some((a) => a.space === SPACE)));
      return seen.every(Boolean) ? true : undefined;
    });
    const qs = cues(0xc0e, 256, DIM);
    await phase(cluster, clients, qs, WARMUP);
    console.log('  no fault…');
    const clean = await phase(cluster, clients, qs, QUERIES);
    await cluster.setFault('n1', { delayMs: DELAY_MS, delayProbability: DELAY_PROBABILITY });
    // The ranking and the hedge delay adapt over the first answers: they are part of the run.
    console.log(`  n1 delays ${DELAY_PROBABILITY * 100}% of its answers by ${DELAY_MS} ms…`);
    const faulty = await phase(cluster, clients, qs, QUERIES);
    await cluster.setFault('n1', { delayMs: 0 });

    const stats = (xs: number[]) => ({ p50: round(pct(xs, 50), 3), p99: round(pct(xs, 99), 3), p999: round(pct(xs, 99.9), 3), mean: round(xs.reduce((a, b) => a + b, 0) / xs.length, 3), n: xs.length });
    const rows = MODES.map((m) => {
      const c = stats(clean.latMs[m]);
      const f = stats(faulty.latMs[m]);
      return {
        mode: m,
        clean: c,
        fault: f,
        p99VsClean: round(f.p99 / c.p99, 3),
        extraCalls: faulty.hedges[m].sent,
        extraCallShare: round(faulty.hedges[m].sent / QUERIES, 4),
        hedgesWon: faulty.hedges[m].won,
        answeredBy: faulty.answeredBy[m],
      };
    });
    printTable(`Recall top-10, 3 copies, client-side ms, 1 in flight (loadavg clean ${clean.loadavg.join(' ')}, fault ${faulty.loadavg.join(' ')})`, rows.map((r) => ({
      coordinator: r.mode,
      'clean p50': r.clean.p50, 'clean p99': r.clean.p99, 'clean p99.9': r.clean.p999,
      'fault p50': r.fault.p50, 'fault p99': r.fault.p99, 'fault p99.9': r.fault.p999,
      'p99 fault/clean': r.p99VsClean,
      'extra calls': `${r.extraCalls} (${round(100 * r.extraCallShare, 2)}%)`,
      'answers n1/n2/n3': ['n1', 'n2', 'n3'].map((n) => r.answeredBy[n] ?? 0).join('/'),
    })));
    const hedged = rows.find((r) => r.mode === 'hedged')!;
    // The goal compares against the no-fault p99 of the fixed order: what the cluster gives with no slow copy.
    const cleanP99 = rows.find((r) => r.mode === 'fixed')!.clean.p99;
    const goal = { p99Ratio: round(hedged.fault.p99 / cleanP99, 3), extraCallShare: hedged.extraCallShare };
    const goalMet = goal.p99Ratio <= 1.5 && goal.extraCallShare <= 0.05;
    console.log(`\ngoal: ranking + hedging p99 under the fault ${goal.p99Ratio}x the no-fault p99 (<= 1.5x), extra calls ${round(100 * goal.extraCallShare, 2)}% (<= 5%): ${goalMet ? 'met' : 'NOT met'}`);
    const durationS = round((performance.now() - started) / 1000, 1);
    const path = writeResults('slow-copy.json', `npm run bench:slow-copy${quick ? ' -- --quick' : ''}`, {
      quick,
      durationS,
      loadavg: { start: loadStart, clean: clean.loadavg, fault: faulty.loadavg, end: loadavg() },
      setup: { copies: ['n1 (primary, slow)', 'n2', 'n3'], memories: MEMORIES, dimension: DIM, queriesPerCoordinatorPerPhase: QUERIES, warmup: WARMUP, fault: { node: 'n1', delayMs: DELAY_MS, probability: DELAY_PROBABILITY }, coordinators: COORDINATORS },
      rows,
      goal: { ...goal, target: 'p99 <= 1.5x no-fault p99 (fixed order), extra calls <= 5%', met: goalMet },
    });
    console.log(`wrote ${path} (${durationS} s)`);
  } finally {
    await cluster.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

/**
 * Where the time of P5's non-owner path goes: a 3-node loopback cluster whose node processes run
 * with a CPU profiler preloaded through NODE_OPTIONS (startNodeProcess passes the environment on), one space on n1
 * (1,000 memories × 64 dims), then N Recall top-10 queries through n2 (non-owner) and N through
 * n1 (owner), one in flight. The nodes stop cleanly (SIGTERM → process.exit) and write their
 * profiles; this prints, per node, CPU ms per query by category and the heaviest functions.
 * Not part of `npm run bench` (a profile, not a figure): run it alone.
 *
 *   node dist/bench/profile-p5.js [--queries N] [--out <dir>]
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LocalCluster } from '../src/cluster/local-cluster.js';
import type { EngramClient } from '../src/client/engram-client.js';
import type { Query } from '../src/query/types.js';
import { argInt, loadavg, printTable, round, spreadOf, writeResults } from './common.js';
import { cues, placeSpaces } from './cluster-data.js';
import { frameCategory, type CpuProfile } from './cpu-profile-category.js';

const args = process.argv.slice(2);
const QUERIES = argInt('--queries', 3_000);
const WARMUP = 300;
const SPACE = 'prof-p5';
const DIM = 64;
const MEMORIES = 1_000;
const INTERVAL_US = 200;

const category = (f: CpuProfile['nodes'][number]['callFrame']) => frameCategory(f, 'dir');

function analyse(p: CpuProfile, queries: number) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const totalUs = p.endTime - p.startTime;
  const cats = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const c = category(n.callFrame);
    cats.set(c, (cats.get(c) ?? 0) + us);
    if (c === 'idle') continue;
    const short = n.callFrame.url.replace(/^.*\/(node_modules\/)/, '').replace(/^file:\/\/.*\/dist\//, 'dist/');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${short}:${n.callFrame.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  // Inclusive time of the project's own functions (src/…): everything below them, counted once per stack.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      const m = /dist\/src\/(.+)\.js$/.exec(f.url);
      if (!m) continue;
      const key = `${f.functionName || '(anonymous)'} src/${m[1]}.ts`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const busyUs = totalUs - (cats.get('idle') ?? 0);
  const perQ = (us: number) => round(us / 1000 / queries, 4);
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
  return {
    profiledMs: round(totalUs / 1000, 1),
    busyMs: round(busyUs / 1000, 1),
    busyMsPerQuery: perQ(busyUs),
    categories: top(cats, 30).map(([c, us]) => ({ category: c, ms: round(us / 1000, 1), msPerQuery: perQ(us), shareOfBusy: c === 'idle' ? null : round(us / busyUs, 3) })),
    selfTop: top(fns, 25).map(([f, us]) => ({ fn: f, ms: round(us / 1000, 1), msPerQuery: perQ(us) })),
    srcInclusive: top(inclusive, 25).map(([f, us]) => ({ fn: f, ms: round(us / 1000, 1), msPerQuery: perQ(us) })),
  };
}

async function main(): Promise<void> {
  const profDir = await mkdtemp(join(os.tmpdir(), 'engram-bench-profile-'));
  const phases: Record<string, { client: ReturnType<typeof spreadOf> }> = {};
  const previous = process.env.NODE_OPTIONS;
  // Each node process inherits this environment (startNodeProcess spreads process.env). Node 20
  // refuses --cpu-prof in NODE_OPTIONS, so a preload profiles through the inspector instead.
  const preload = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'cpu-profile-preload.js')).href;
  process.env.NODE_OPTIONS = `${previous ?? ''} --import=${preload}`.trim();
  process.env.ENGRAM_CPU_PROF_DIR = profDir;
  process.env.ENGRAM_CPU_PROF_INTERVAL_US = String(INTERVAL_US);
  const cluster = new LocalCluster({ extraArgs: ['--replication-factor', '1'], prefix: 'engram-bench-profile-cluster-' });
  const pids: Record<string, number> = {};
  try {
    await cluster.start(3);
    if (previous === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = previous;
    for (const id of ['n1', 'n2', 'n3']) pids[id] = cluster.node(id).proc.pid;
    await placeSpaces(cluster, [{ space: SPACE, primary: 'n1' }], MEMORIES, DIM, cluster.node('n2').client);
    const cueList = cues(0x9e37, 64, DIM);
    const query = (i: number): Query => ({ kind: 'recall', space: SPACE, cue: { embedding: cueList[i % cueList.length]! }, limit: 10 });
    const run = async (label: string, client: EngramClient) => {
      for (let i = 0; i < WARMUP; i++) await client.query(query(i));
      const lat: number[] = [];
      for (let i = 0; i < QUERIES; i++) {
        const t = performance.now();
        await client.query(query(i));
        lat.push(performance.now() - t);
      }
      phases[label] = { client: spreadOf(lat, 4) };
      console.log(`  ${label}: ${QUERIES} queries, client p50 ${phases[label]!.client.p50} ms, p99 ${phases[label]!.client.p99} ms`);
    };
    console.log(`profile P5 (${QUERIES} Recall top-10 per path, profiles every ${INTERVAL_US} µs): loadavg ${loadavg().join(' ')}`);
    await run('non-owner (via n2)', cluster.node('n2').client);
    await run('owner (via n1)', cluster.node('n1').client);
  } finally {
    if (process.env.NODE_OPTIONS?.includes('cpu-profile-preload')) {
      if (previous === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = previous;
    }
    await cluster.stop();
  }
  try {
    const files = await readdir(profDir);
    const out: Record<string, ReturnType<typeof analyse>> = {};
    for (const [id, pid] of Object.entries(pids)) {
      const f = files.find((x) => x.includes(`.${pid}.`) && x.endsWith('.cpuprofile'));
      if (!f) throw new Error(`no profile for ${id} (pid ${pid}) in ${files.join(', ')}`);
      // n2 answered only the non-owner queries; n1 served the ExecuteLocal of those and the owner queries.
      out[id] = analyse(JSON.parse(await readFile(join(profDir, f), 'utf8')) as CpuProfile, id === 'n1' ? 2 * QUERIES : QUERIES);
    }
    for (const id of ['n2', 'n1']) {
      const a = out[id]!;
      printTable(`${id}: busy ${a.busyMs} ms of ${a.profiledMs} ms profiled, ${a.busyMsPerQuery} ms CPU per query (per ${id === 'n1' ? 'query served, both phases' : 'non-owner query'}), by category`, a.categories.slice(0, 16).map((c) => ({ category: c.category, ms: c.ms, 'ms/query': c.msPerQuery, 'share of busy': c.shareOfBusy ?? '-' })));
      printTable(`${id}: heaviest functions (self time)`, a.selfTop.slice(0, 15).map((f) => ({ fn: f.fn.slice(0, 110), ms: f.ms, 'ms/query': f.msPerQuery })));
      printTable(`${id}: project functions, inclusive`, a.srcInclusive.slice(0, 15).map((f) => ({ fn: f.fn, ms: f.ms, 'ms/query': f.msPerQuery })));
    }
    const path = writeResults('profile-p5.json', `node dist/bench/profile-p5.js ${args.join(' ')}`.trim(), { queries: QUERIES, intervalUs: INTERVAL_US, phases, nodes: out, loadavg: loadavg() });
    console.log(`wrote ${path}`);
  } finally {
    await rm(profDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

/**
 * Metadata group measurements (issue 11, closing note), on real node processes on 127.0.0.1 with
 * UDP gossip and the node's default Raft timing (100 ms ticks, elections after 10–20 ticks):
 *
 *  1. Failover: kill -9 the metadata leader of 3; time until both survivors report the same new
 *     leader in `status()` (polled every ~10 ms). RUNS times, the killed node restarted and the
 *     cluster converged between runs; median, min, max.
 *  2. Create latency: CREATES sequential `createSpace` calls (dimension 8, two copies) through
 *     one node of 3 (a follower, so the proposal is forwarded), client-side wall time; p50/p99.
 *     The same through the leader.
 *  3. Idle CPU: SPACES spaces in the table of a 3-node cluster, then IDLE_S seconds with no
 *     requests; CPU time (user + system, /proc/<pid>/stat) of each node process over that window.
 *
 *   node dist/bench/meta.js [--quick] [--runs N] [--creates N] [--spaces N] [--idle-s S]
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { LocalCluster } from '../src/cluster/local-cluster.js';
import { pct, positiveFlag, printTable, writeResults } from './common.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const argNum = (name: string, fallback: number): number => positiveFlag(args, name, fallback);
const RUNS = argNum('--runs', quick ? 3 : 7);
const CREATES = argNum('--creates', quick ? 50 : 300);
const SPACES = argNum('--spaces', quick ? 100 : 1_000);
const IDLE_S = argNum('--idle-s', quick ? 5 : 30);
const POLL_MS = 10;
const KEY = 'bench-meta-key';
const CLK_TCK = 100;

const median = (xs: number[]) => pct(xs, 50);
const round = (x: number) => Math.round(x * 10) / 10;

async function withCluster<T>(count: number, fn: (c: LocalCluster) => Promise<T>): Promise<T> {
  const c = new LocalCluster({ clusterKey: KEY, prefix: 'engram-bench-meta-' });
  try {
    await c.start(count);
    return await fn(c);
  } finally {
    await c.stop();
  }
}

async function failover(): Promise<{ runsMs: number[]; medianMs: number; minMs: number; maxMs: number }> {
  const runsMs: number[] = [];
  await withCluster(3, async (c) => {
    for (let run = 0; run < RUNS; run++) {
      const st = await c.waitConverged();
      const leader = st[0]!.meta!.leader;
      const others = c.running().filter((n) => n.id !== leader);
      const t0 = performance.now();
      await c.node(leader).proc.kill9();
      await c.until('a new leader', 60_000, async () => {
        const s = await c.statuses(others);
        const l = s[0]!.meta!.leader;
        return l !== '' && l !== leader && s.every((x) => x.meta!.leader === l) ? l : undefined;
      }, POLL_MS);
      runsMs.push(round(performance.now() - t0));
      await c.startNode(leader);
    }
  });
  return { runsMs, medianMs: round(median(runsMs)), minMs: Math.min(...runsMs), maxMs: Math.max(...runsMs) };
}

async function createLatency(): Promise<Record<string, { p50Ms: number; p99Ms: number; meanMs: number; n: number }>> {
  return withCluster(3, async (c) => {
    const st = await c.waitConverged();
    const leader = st[0]!.meta!.leader;
    const follower = c.running().find((n) => n.id !== leader)!;
    const out: Record<string, { p50Ms: number; p99Ms: number; meanMs: number; n: number }> = {};
    for (const [label, node] of [['through a follower', follower], ['through the leader', c.node(leader)]] as const) {
      const ms: number[] = [];
      for (let i = 0; i < CREATES; i++) {
        const t = performance.now();
        const r = await node.client.createSpace(`lat-${label.split(' ').pop()}-${i}`, { dimension: 8 });
        ms.push(performance.now() - t);
        if (!r.created) throw new Error('a fresh space was not created');
      }
      out[label] = { p50Ms: round(pct(ms, 50)), p99Ms: round(pct(ms, 99)), meanMs: round(ms.reduce((a, b) => a + b, 0) / ms.length), n: ms.length };
    }
    return out;
  });
}

function cpuSeconds(pid: number): number {
  // Fields after the command name: state is 3rd; utime and stime are the 14th and 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

async function idleCpu(): Promise<{ spaces: number; idleS: number; nodes: { node: string; role: string; cpuPercent: number }[] }> {
  return withCluster(3, async (c) => {
    const via = c.node('n1').client;
    // Eight creates in flight: the table grows to SPACES entries.
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < SPACES) {
        const i = next++;
        await via.createSpace(`idle-${i}`, { dimension: 8, copies: 1 });
      }
    }));
    const st = await c.waitConverged();
    if (st.some((s) => s.assignments.length !== SPACES)) throw new Error('not every node holds every space in its table');
    const leader = st[0]!.meta!.leader;
    const before = c.running().map((n) => ({ id: n.id, pid: n.proc.pid, cpu: cpuSeconds(n.proc.pid) }));
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const wall = (performance.now() - t0) / 1000;
    return {
      spaces: SPACES,
      idleS: round(wall),
      nodes: before.map((b) => ({ node: b.id, role: b.id === leader ? 'leader' : 'follower', cpuPercent: round(((cpuSeconds(b.pid) - b.cpu) / wall) * 100 * 10) / 10 })),
    };
  });
}

const f = await failover();
printTable(`metadata failover: kill -9 of the leader of 3, ${RUNS} runs (ms)`, [{ median: f.medianMs, min: f.minMs, max: f.maxMs, runs: f.runsMs.join(' ') }]);
const l = await createLatency();
printTable(`createSpace on 3 nodes, ${CREATES} sequential creates each (ms)`, Object.entries(l).map(([k, v]) => ({ via: k, ...v })));
const idle = await idleCpu();
printTable(`idle CPU with ${idle.spaces} spaces in the table, over ${idle.idleS} s`, idle.nodes);
const path = writeResults('meta.json', `node dist/bench/meta.js ${args.join(' ')}`.trim(), { loadAvg: os.loadavg(), failover: f, createLatency: l, idleCpu: idle });
console.log(`\nwrote ${path}`);

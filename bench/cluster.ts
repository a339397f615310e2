/**
 * Cluster benchmarks (issue 4, closing note), on a real cluster of node processes on 127.0.0.1
 * with UDP gossip:
 *
 *  1. Failure detection: kill -9 one node of 3; time until every surviving node's `status()`
 *     reports it `down` (polled every ~10 ms). Repeated N times (the killed node is restarted
 *     and the cluster re-converges between runs), for the default SWIM timings (no timing flags)
 *     and for the fast timings of test/helpers/cluster.ts.
 *  2. Replica catch-up: space with primary n1 and replica n2; kill -9 n2; W writes to n1 (one
 *     `store` of one memory each, ack `one`, 8 in flight); restart n2; time from n2's `started`
 *     line until n1 reports lag 0 for n2; then n2 must hold the primary's memory count and log
 *     position. Optionally the same with n2 only cut off by the fault switch (gossip only).
 *
 *   node dist/bench/cluster.js [--quick] [--runs N] [--writes W] [--no-cutoff]
 */
import os from 'node:os';
import { LocalCluster } from '../src/cluster/local-cluster.js';
import { EngramClient, type NodeStatus } from '../src/client/engram-client.js';
import { parseSwimTiming, type SwimTimingOptions } from '../src/cluster/swim-options.js';
import { positiveFlag, printTable, writeResults } from './common.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const argNum = (name: string, fallback: number): number => positiveFlag(args, name, fallback);
const RUNS = argNum('--runs', quick ? 3 : 7);
const WRITES = argNum('--writes', quick ? 1_000 : 10_000);
const WITH_CUTOFF = !args.includes('--no-cutoff');
const CONCURRENCY = 8;
const DIM = 8;
const POLL_MS = 10;
const CLUSTER_KEY = 'bench-cluster-key';

/** The fast timings of test/helpers/cluster.ts (TIMING there). */
const FAST: SwimTimingOptions = { probePeriodMs: 200, probeTimeoutMs: 80, suspectToDownMs: 600 };

async function withCluster<T>(timing: SwimTimingOptions | undefined, count: number, fn: (c: LocalCluster) => Promise<T>): Promise<T> {
  const c = new LocalCluster({ ...(timing ? { timing } : {}), clusterKey: CLUSTER_KEY, faults: true, prefix: 'engram-bench-cluster-' });
  try {
    await c.start(count);
    return await fn(c);
  } finally {
    await c.stop();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number) => Math.round(x * 10) / 10;
const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

// ---------------------------------------------------------------- 1. failure detection

interface DetectionRun { run: number; killed: string; detectionMs: number; perSurvivorMs: Record<string, number>; loadavg: number[] }

async function detection(label: string, timing: SwimTimingOptions | undefined): Promise<{ label: string; timing: ReturnType<typeof parseSwimTiming>; timingFlags: boolean; budgetMs: number; runs: DetectionRun[] }> {
  return withCluster(timing, 3, async (c) => {
    const budget = c.detectionBudgetMs(3);
    const runs: DetectionRun[] = [];
    for (let run = 0; run < RUNS; run++) {
      const victim = `n${(run % 3) + 1}`;
      const survivors = c.running().filter((n) => n.id !== victim);
      const seen: Record<string, number> = {};
      const t0 = performance.now();
      c.node(victim).proc.child.kill('SIGKILL');
      // Each survivor is polled in its own loop so one slow status() does not delay the other.
      await Promise.all(
        survivors.map((s) =>
          c.until(`${s.id} to see ${victim} down`, 10 * budget + 10_000, async () => {
            const st = await s.client.status();
            if (st.members.find((m) => m.id === victim)?.state !== 'down') return undefined;
            seen[s.id] = round(performance.now() - t0);
            return true;
          }, POLL_MS),
        ),
      );
      await c.node(victim).proc.exited;
      const detectionMs = Math.max(...Object.values(seen));
      runs.push({ run, killed: victim, detectionMs, perSurvivorMs: seen, loadavg: load() });
      console.log(`  ${label} run ${run + 1}/${RUNS}: killed ${victim}, all survivors saw it down after ${detectionMs} ms (${JSON.stringify(seen)})`);
      await c.startNode(victim);
      await c.waitConverged();
    }
    return { label, timing: parseSwimTiming(timing ?? {}), timingFlags: timing !== undefined, budgetMs: budget, runs };
  });
}

// ---------------------------------------------------------------- 2. replica catch-up

function memory(i: number) {
  const embedding = new Float32Array(DIM);
  for (let d = 0; d < DIM; d++) embedding[d] = Math.sin(i * 0.7 + d * 1.3);
  return { id: `m${i}`, embedding, content: `memory ${i}` };
}

async function writeAll(client: EngramClient, space: string, offset: number, count: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const i = offset + next++;
        await client.store(space, { memories: [memory(i)], ack: 'quorum' });
      }
    }),
  );
  return performance.now() - t0;
}

async function lagOf(c: LocalCluster, space: string): Promise<{ status: NodeStatus; lag: number | undefined }> {
  const status = await c.node('n1').client.status();
  // Entries the n2 copy lacks of the commit, as the leader (n1 here) sees it.
  const g = status.groups.find((x) => x.space === space);
  const p = g?.peers.find((x) => x.node === 'n2');
  return { status, lag: g && p ? g.commit - p.matched : undefined };
}

async function verify(c: LocalCluster, space: string, expected: number) {
  const p = (await c.node('n1').client.status()).spaces.find((s) => s.id === space)!;
  const r = (await c.node('n2').client.status()).spaces.find((s) => s.id === space);
  const ok = !!r && p.memories === expected && r.memories === p.memories && r.logPosition === p.logPosition;
  return { ok, primary: { memories: p.memories, logPosition: p.logPosition }, replica: r ? { memories: r.memories, logPosition: r.logPosition } : null };
}

async function catchUpAfterKill() {
  return withCluster(FAST, 3, async (c) => {
    const space = 'catchup';
    await c.node('n1').client.createSpace(space, { dimension: DIM, primary: 'n1', replicas: ['n2'] });
    await c.node('n1').client.store(space, { memories: [memory(-1)], ack: 'all' });
    await c.node('n2').proc.kill9();
    const writePhaseMs = await writeAll(c.node('n1').client, space, 0, WRITES);
    const before = await lagOf(c, space);
    const n2 = await c.startNode('n2');
    let firstProgress = 0;
    const lagZero = await c.until('n2 to catch up', 120_000, async () => {
      const { lag } = await lagOf(c, space);
      if (firstProgress === 0 && lag !== undefined && before.lag !== undefined && lag < before.lag) firstProgress = performance.now();
      return lag === 0 ? performance.now() : undefined;
    }, POLL_MS);
    const catchUpMs = lagZero - n2.startedAt;
    const firstProgressMs = (firstProgress || lagZero) - n2.startedAt;
    const check = await verify(c, space, WRITES + 1);
    if (!check.ok) throw new Error(`replica n2 does not match the primary after catch-up: ${JSON.stringify(check)}`);
    return { writes: WRITES, concurrency: CONCURRENCY, dimension: DIM, writePhaseMs: round(writePhaseMs), writesPerSecond: Math.round(WRITES / (writePhaseMs / 1000)), lagBeforeRestart: before.lag, firstProgressMs: round(firstProgressMs), catchUpMs: round(catchUpMs), verified: check, loadavg: load() };
  });
}

/** n2 only cut off by the fault switch (gossip silenced; the internal gRPC service still answers). */
async function catchUpAfterCutOff() {
  return withCluster(FAST, 3, async (c) => {
    const space = 'catchup-cut';
    await c.node('n1').client.createSpace(space, { dimension: DIM, primary: 'n1', replicas: ['n2'] });
    await c.node('n1').client.store(space, { memories: [memory(-1)], ack: 'all' });
    await c.setFault('n2', { cutOff: true });
    const budget = c.detectionBudgetMs(3);
    await c.until('n1 to see n2 down', 10 * budget + 10_000, async () => ((await c.node('n1').client.status()).members.find((m) => m.id === 'n2')?.state === 'down' ? true : undefined));
    const writePhaseMs = await writeAll(c.node('n1').client, space, 0, WRITES);
    const before = await lagOf(c, space);
    const t0 = performance.now();
    await c.setFault('n2', { cutOff: false });
    const lagZero = await c.until('n2 to catch up', 120_000, async () => ((await lagOf(c, space)).lag === 0 ? performance.now() : undefined), POLL_MS);
    const check = await verify(c, space, WRITES + 1);
    if (!check.ok) throw new Error(`replica n2 does not match the primary after catch-up: ${JSON.stringify(check)}`);
    return { writes: WRITES, writePhaseMs: round(writePhaseMs), lagBeforeRestore: before.lag, catchUpMs: round(lagZero - t0), verified: check, loadavg: load() };
  });
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const t0 = performance.now();
  console.log(`cluster bench: ${RUNS} detection runs per timing set, ${WRITES} writes; loadavg at start ${load().join(' ')}`);
  const detections = [await detection('default timings', undefined), await detection('fast test timings', FAST)];
  console.log(`  catch-up after kill -9 (${WRITES} writes)…`);
  const kill = await catchUpAfterKill();
  console.log(`  ${JSON.stringify(kill)}`);
  let cut: Awaited<ReturnType<typeof catchUpAfterCutOff>> | undefined;
  if (WITH_CUTOFF) {
    console.log(`  catch-up after cut-off (${WRITES} writes)…`);
    cut = await catchUpAfterCutOff();
    console.log(`  ${JSON.stringify(cut)}`);
  }

  printTable(
    'Failure detection of a kill -9ed node (3 nodes, all survivors see it down)',
    detections.map((d) => {
      const xs = d.runs.map((r) => r.detectionMs);
      return {
        timing: d.label,
        'probe/timeout/suspect ms': `${d.timing.probePeriodMs}/${d.timing.probeTimeoutMs}/${d.timing.suspectToDownMs}`,
        runs: xs.length,
        'median ms': median(xs),
        'min ms': Math.min(...xs),
        'max ms': Math.max(...xs),
        'budget ms': d.budgetMs,
      };
    }),
  );
  printTable(`Replica catch-up, ${WRITES} writes (1 memory each, ack one, ${CONCURRENCY} in flight, dim ${DIM}), fast timings`, [
    { case: 'n2 kill -9, restarted', 'write phase ms': Math.round(kill.writePhaseMs), 'writes/s': kill.writesPerSecond, 'lag before': kill.lagBeforeRestart ?? -1, 'first progress ms': kill.firstProgressMs, 'catch-up ms': kill.catchUpMs, 'from': 'n2 started line', verified: kill.verified.ok },
    ...(cut ? [{ case: 'n2 cut off (gossip only)', 'write phase ms': Math.round(cut.writePhaseMs), 'writes/s': Math.round(WRITES / (cut.writePhaseMs / 1000)), 'lag before': cut.lagBeforeRestore ?? -1, 'first progress ms': '', 'catch-up ms': cut.catchUpMs, 'from': 'fault cleared', verified: cut.verified.ok }] : []),
  ]);
  const loadEnd = load();
  console.log(`\nloadavg at end ${loadEnd.join(' ')}; total ${Math.round((performance.now() - t0) / 1000)} s`);

  const path = writeResults('cluster.json', 'npm run bench:cluster' + (quick ? ' -- --quick' : ''), {
    quick,
    loadavgEnd: loadEnd,
    detection: detections.map((d) => {
      const xs = d.runs.map((r) => r.detectionMs);
      return { ...d, medianMs: median(xs), minMs: Math.min(...xs), maxMs: Math.max(...xs) };
    }),
    catchUp: { afterKill9: kill, ...(cut ? { afterCutOff: { ...cut, note: 'SetFault cutOff silences gossip only; replication over gRPC continues, so lag stays near 0' } } : {}) },
  });
  console.log(`wrote ${path}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

/**
 * Space groups on Raft (DESIGN §5), on 3 real node processes on 127.0.0.1 (4 for the re-copy)
 * with the node's defaults (100 ms Raft ticks, elections after 10–20 ticks, 3 copies):
 *
 *  1. Failover: a writer stores batches of 4 memories back to back (ack quorum, 10 s deadline)
 *     through a follower of the space's group; kill -9 the leader. Unavailability = kill → first
 *     acknowledgement of a write invoked after the kill; also the longest gap between
 *     acknowledgements from 1 s before the kill. RUNS runs (the killed node restarted and the
 *     group back to 3 voters with equal digests between runs); median and max. Goal ≤ election
 *     timeout + 1 s (≤ 3 s at the defaults).
 *  2. Rolling restart: 4 writers, each with a client naming all three nodes, while every node in
 *     turn gets SIGTERM, is restarted on the same gRPC port and caught up. Goal 0 failed writes.
 *  3. Re-copy: 4 nodes with --reassign-after 2000; a space of MEMORIES × 64-dim memories on 3
 *     copies; kill -9 a follower copy for good; time to the replacement being a voter with the
 *     leader's digest, with the milestones on the way.
 *  4. Write latency: LATENCY sequential single-memory stores per ack level, through the leader
 *     and through a follower; p50/p99.
 *  5. Idle CPU: SPACES spaces × 3 copies, every group led, IDLE_S s without requests; % of one
 *     core per node (goal < 10%), then a short CPU profile of the same idle state.
 *
 *   node dist/bench/space.js [--quick] [--runs N] [--memories N] [--latency N] [--spaces N]
 *        [--idle-s S] [--profile-s S] [--only failover,rolling,recopy,latency,idle] [--out DIR|FILE]
 */
import os from 'node:os';
import { loadavg, pct, positiveFlag, printTable, round, writeResults } from './common.js';
import { failover, rollingRestart, type FailoverRun, type RollingResult } from './space/availability.js';
import { stopAll } from './space/harness.js';
import { idleCpu } from './space/idle.js';
import { writeLatency } from './space/latency.js';
import { recopy } from './space/recopy.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const num = (name: string, fallback: number) => positiveFlag(args, name, fallback);
const RUNS = num('--runs', quick ? 2 : 10);
const WRITERS = 4;
const MEMORIES = num('--memories', quick ? 1_000 : 10_000);
const LATENCY = num('--latency', quick ? 50 : 500);
const SPACES = num('--spaces', quick ? 50 : 1_000);
const IDLE_S = num('--idle-s', quick ? 5 : 30);
const PROFILE_S = num('--profile-s', quick ? 3 : 10);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? new Set(args[onlyAt + 1]!.split(',')) : undefined;
const want = (part: string) => !only || only.has(part);
const log = (s: string) => console.log(s);

process.once('SIGINT', () => {
  console.error('interrupted: stopping the clusters');
  void stopAll().finally(() => process.exit(130));
});

const results: Record<string, unknown> = { loadavgBefore: loadavg(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown' };
const save = () => writeResults('space.json', `node dist/bench/space.js ${args.join(' ')}`.trim(), { ...results, loadavgAfter: loadavg() });

async function part(name: string, fn: () => Promise<void>): Promise<void> {
  if (!want(name)) return;
  console.log(`\n[${name}] loadavg ${loadavg().join(' ')}`);
  try {
    await fn();
  } catch (err) {
    console.error(`[${name}] failed:`, err);
    results[`${name}Error`] = String((err as Error).stack ?? err);
    process.exitCode = 1;
  }
  save();
}

const summary = (xs: number[]) => ({ median: round(pct(xs, 50), 1), max: round(Math.max(...xs), 1), min: round(Math.min(...xs), 1) });

await part('failover', async () => {
  const runs: FailoverRun[] = await failover(RUNS, log);
  const unavailable = summary(runs.map((r) => r.unavailableMs));
  const gap = summary(runs.map((r) => r.longestGapMs));
  results.failover = { runs, unavailableMs: unavailable, longestGapMs: gap, failedWrites: runs.reduce((a, r) => a + r.failedWrites, 0), goalMs: 'election timeout (1–2 s) + 1 s' };
  printTable(`1. writes after kill -9 of the space leader, ${runs.length} runs (ms)`, [
    { figure: 'kill → first ack of a write sent after it', ...unavailable },
    { figure: 'longest gap between acks', ...gap },
  ]);
});

await part('rolling', async () => {
  const r: RollingResult = await rollingRestart(WRITERS, log);
  results.rolling = r;
  printTable(`2. rolling restart (SIGTERM, restart, caught up) of 3 nodes under ${WRITERS} writers`, [
    { writes: r.writes, failed: r.failed, 'ack p50 ms': r.ackP50Ms, 'longest ack gap ms': r.longestGapMs, errors: Object.keys(r.errors).length ? JSON.stringify(r.errors).slice(0, 200) : '-' },
  ]);
  printTable('   steps (ms)', r.steps);
});

await part('recopy', async () => {
  const r = await recopy(MEMORIES, log);
  results.recopy = r;
  printTable(`3. re-copy of ${r.memories} memories × ${r.dimension} dims after kill -9 of ${r.killed} (--reassign-after ${r.reassignAfterMs}), ms from the kill`, [
    { ...r.fromKillMs, 'setCopies → data': r.moveToDataMs ?? '-', 'setCopies → caught up': r.moveToCaughtUpMs ?? '-' },
  ]);
});

await part('latency', async () => {
  const rows = await writeLatency(LATENCY);
  results.latency = rows;
  printTable(`4. sequential single-memory writes on 3 nodes, ${LATENCY} each (ms)`, rows.map((r) => ({ ...r })));
});

await part('idle', async () => {
  const r = await idleCpu(SPACES, IDLE_S, PROFILE_S, log);
  results.idle = r;
  printTable(`5. idle CPU, ${r.spaces} spaces × 3 copies on 3 nodes, over ${r.idleS} s (% of one core; goal < 10)`, r.nodes);
  for (const [id, p] of Object.entries(r.profiles)) {
    printTable(`   ${id}: busy ${p.busyPercent}% of ${p.profiledMs} ms profiled, by category (self)`, p.categories.slice(0, 10));
    printTable(`   ${id}: project functions, inclusive`, p.srcInclusive.slice(0, 12));
    printTable(`   ${id}: heaviest functions, self`, p.selfTop.slice(0, 10).map((f) => ({ fn: f.fn.slice(0, 140), ms: f.ms })));
  }
});

console.log(`\nwrote ${save()}`);

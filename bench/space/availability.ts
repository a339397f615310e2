/**
 * Write availability: (1) kill -9 of a space's leader under a writer through a surviving
 * follower; (2) a rolling restart (SIGTERM, restart, caught up) of every node under 4 writers
 * whose client names all three nodes.
 */
import { performance } from 'node:perf_hooks';
import { EngramClient } from '../../src/client/engram-client.js';
import { groupOf, r1, sleep, waitCaughtUp, waitSettled, withCluster, writerLoop, type WriteRecord } from './harness.js';

const DIM = 8;
const BATCH = 4;
const DEADLINE_MS = 10_000;

export interface FailoverRun { killed: string; killedWasMetaLeader: boolean; via: string; unavailableMs: number; longestGapMs: number; failedWrites: number; writesAround: number; errors: string[] }

/** Longest time between two consecutive acknowledgements in [from, to] (bounds count as acks). */
function longestGap(acks: number[], from: number, to: number): number {
  const xs = [from, ...acks.filter((t) => t > from && t < to), to].sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < xs.length; i++) gap = Math.max(gap, xs[i]! - xs[i - 1]!);
  return gap;
}

export async function failover(runs: number, log: (s: string) => void): Promise<FailoverRun[]> {
  const space = 'failover';
  const out: FailoverRun[] = [];
  await withCluster(3, {}, async (c) => {
    await c.node('n1').client.createSpace(space, { dimension: DIM, copies: 3 });
    for (let run = 0; run < runs; run++) {
      const settled = await waitSettled(c, space, 3);
      const metaLeader = settled.statuses[0]!.meta?.leader ?? '';
      const leader = settled.leader;
      const via = c.running().find((n) => n.id !== leader)!;
      const client = new EngramClient({ nodes: [via.proc.grpcAddress], deadlineMs: DEADLINE_MS, routing: 'any' });
      const recs: WriteRecord[] = [];
      let stop = false;
      const loop = writerLoop(client, space, { tag: `r${run}`, batch: BATCH, dim: DIM, deadlineMs: DEADLINE_MS, stop: () => stop, into: recs });
      try {
        await sleep(1_000);
        const t0 = performance.now();
        await c.node(leader).proc.kill9();
        const first = await c.until('a write invoked after the kill to be acknowledged', 60_000, async () => recs.find((r) => r.ok && r.start >= t0), 5);
        await sleep(500);
        stop = true;
        await loop;
        const from = t0 - 1_000;
        const acks = recs.filter((r) => r.ok).map((r) => r.end);
        const around = recs.filter((r) => r.end >= from);
        const failed = around.filter((r) => !r.ok);
        const result: FailoverRun = {
          killed: leader, killedWasMetaLeader: leader === metaLeader, via: via.id,
          unavailableMs: r1(first.end - t0),
          longestGapMs: r1(longestGap(acks, from, first.end + 400)),
          failedWrites: failed.length, writesAround: around.length,
          errors: [...new Set(failed.map((r) => r.error!))].slice(0, 3),
        };
        out.push(result);
        log(`  run ${run + 1}: killed ${leader}${result.killedWasMetaLeader ? ' (also meta leader)' : ''}, writes via ${via.id}: unavailable ${result.unavailableMs} ms, longest gap ${result.longestGapMs} ms, ${failed.length} failed`);
      } finally {
        stop = true;
        await loop;
        client.close();
      }
      await c.startNode(leader);
    }
    await waitSettled(c, space, 3);
  });
  return out;
}

export interface RollingResult { writers: number; writes: number; failed: number; errors: Record<string, number>; steps: { node: string; stopMs: number; restartMs: number; caughtUpMs: number; samePort: boolean }[]; ackP50Ms: number; longestGapMs: number }

export async function rollingRestart(writers: number, log: (s: string) => void): Promise<RollingResult> {
  const space = 'rolling';
  return withCluster(3, {}, async (c) => {
    await c.node('n1').client.createSpace(space, { dimension: DIM, copies: 3 });
    await waitSettled(c, space, 3);
    const addrs = ['n1', 'n2', 'n3'].map((id) => c.node(id).proc.grpcAddress);
    // Each writer starts at another node, so the restarts hit writers on every node.
    const clients = Array.from({ length: writers }, (_, w) => new EngramClient({ nodes: [...addrs.slice(w % 3), ...addrs.slice(0, w % 3)], deadlineMs: DEADLINE_MS, routing: 'any' }));
    const recs: WriteRecord[] = [];
    let stop = false;
    const loops = clients.map((client, w) => writerLoop(client, space, { tag: `w${w}`, batch: BATCH, dim: DIM, deadlineMs: DEADLINE_MS, stop: () => stop, into: recs }));
    const steps: RollingResult['steps'] = [];
    const tStart = performance.now();
    try {
      await sleep(1_000);
      for (const id of ['n1', 'n2', 'n3']) {
        const addr = c.node(id).proc.grpcAddress;
        const t0 = performance.now();
        await c.node(id).proc.stop(10_000);
        const t1 = performance.now();
        // Same gRPC port again: the writers' clients know the nodes by address.
        let samePort = true;
        try {
          await c.startNode(id, { extraArgs: ['--listen', addr] });
        } catch (err) {
          log(`  ${id} could not take ${addr} again (${(err as Error).message.split('\n')[0]}); restarted on a new port`);
          samePort = false;
          await c.startNode(id);
        }
        const t2 = performance.now();
        await c.waitConverged();
        await waitCaughtUp(c, space, id);
        const t3 = performance.now();
        steps.push({ node: id, stopMs: r1(t1 - t0), restartMs: r1(t2 - t1), caughtUpMs: r1(t3 - t2), samePort });
        const st = await c.node(id).client.status();
        log(`  ${id}: stopped in ${r1(t1 - t0)} ms, started in ${r1(t2 - t1)} ms, caught up ${r1(t3 - t2)} ms later (its group role ${groupOf(st, space)?.role}); writes so far ${recs.length}, failed ${recs.filter((r) => !r.ok).length}`);
        await sleep(1_000);
      }
    } finally {
      stop = true;
      await Promise.all(loops);
      for (const cl of clients) cl.close();
    }
    const failed = recs.filter((r) => !r.ok);
    const errors: Record<string, number> = {};
    for (const f of failed) errors[f.error!] = (errors[f.error!] ?? 0) + 1;
    const ok = recs.filter((r) => r.ok);
    const lat = ok.map((r) => r.end - r.start).sort((a, b) => a - b);
    return {
      writers, writes: recs.length, failed: failed.length, errors, steps,
      ackP50Ms: r1(lat[Math.floor(lat.length / 2)] ?? NaN),
      longestGapMs: r1(longestGap(ok.map((r) => r.end), tStart + 1_000, Math.max(...recs.map((r) => r.end)))),
    };
  });
}

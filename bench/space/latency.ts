/**
 * Write latency on 3 nodes: N sequential single-memory stores (dimension 8), one in flight,
 * client wall time, for each ack level through the group's leader and through a follower.
 */
import { performance } from 'node:perf_hooks';
import type { AckLevel } from '../../src/client/engram-client.js';
import { pct, round } from '../common.js';
import { memories, waitSettled, withCluster } from './harness.js';

const WARMUP = 20;

export interface LatencyRow { ack: AckLevel; via: string; node: string; n: number; p50Ms: number; p99Ms: number; meanMs: number; failed: number }

export async function writeLatency(count: number): Promise<LatencyRow[]> {
  const space = 'latency';
  return withCluster(3, {}, async (c) => {
    await c.node('n1').client.createSpace(space, { dimension: 8, copies: 3 });
    const { leader } = await waitSettled(c, space, 3);
    const follower = c.running().find((n) => n.id !== leader)!.id;
    const rows: LatencyRow[] = [];
    for (const ack of ['quorum', 'all'] as const) {
      for (const [via, node] of [['leader', leader], ['follower', follower]] as const) {
        const client = c.node(node).client;
        const ms: number[] = [];
        let failed = 0;
        for (let i = 0; i < WARMUP + count; i++) {
          const t = performance.now();
          try {
            await client.store(space, { memories: memories(`${ack}-${via}`, i, 1, 8), ack });
          } catch {
            failed++;
            continue;
          }
          if (i >= WARMUP) ms.push(performance.now() - t);
        }
        rows.push({ ack, via, node, n: ms.length, p50Ms: round(pct(ms, 50), 3), p99Ms: round(pct(ms, 99), 3), meanMs: round(ms.reduce((a, b) => a + b, 0) / ms.length, 3), failed });
      }
    }
    const after = await waitSettled(c, space, 3);
    if (after.leader !== leader) throw new Error(`the leader moved during the latency runs (${leader} → ${after.leader})`);
    return rows;
  });
}

/**
 * Plumbing of bench/space.ts: clusters that are always stopped (even on SIGINT), waits on a
 * space group's state as `status()` shows it, writer loops that record every write, test data.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { LocalCluster, type LocalClusterOptions } from '../../src/cluster/local-cluster.js';
import type { AckLevel, EngramClient, MemoryRecord, NodeStatus, SpaceGroupStatus } from '../../src/client/engram-client.js';

const KEY = 'bench-space-key';
const live = new Set<LocalCluster>();

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const r1 = (x: number) => Math.round(x * 10) / 10;

/** Runs `fn` on a fresh cluster of `count` loopback nodes; stops it and removes its data after. */
export async function withCluster<T>(count: number, options: LocalClusterOptions, fn: (c: LocalCluster) => Promise<T>): Promise<T> {
  const c = new LocalCluster({ clusterKey: KEY, prefix: 'engram-bench-space-', ...options });
  live.add(c);
  try {
    await c.start(count);
    return await fn(c);
  } finally {
    await c.stop().catch((err) => console.error('cluster stop failed', err));
    live.delete(c);
  }
}

/** Stops every cluster still running (the SIGINT path). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop().catch(() => undefined)));
  live.clear();
}

export function groupOf(st: NodeStatus, space: string): SpaceGroupStatus | undefined {
  return st.groups.find((g) => g.space === space);
}

export interface Settled { leader: string; term: number; commit: number; digest: string; statuses: NodeStatus[] }

/**
 * Waits until `space`'s group has one leader every running copy agrees on, `voters` voters, no
 * learner, and every voter applied what the leader did with the leader's digest (writes stopped).
 */
export async function waitSettled(c: LocalCluster, space: string, voters: number, deadlineMs = 60_000): Promise<Settled> {
  return c.until(`space ${space} to settle on ${voters} voters`, deadlineMs, async () => {
    const statuses = await c.statuses();
    const byNode = new Map(statuses.map((s) => [s.nodeId, groupOf(s, space)]));
    const lead = [...byNode.values()].find((g) => g?.role === 'leader');
    if (!lead || lead.voters.length !== voters || lead.learners.length > 0) return undefined;
    const ok = lead.voters.every((v) => {
      const g = byNode.get(v);
      return g && g.leader === lead.leader && g.applied === lead.applied && g.digest === lead.digest;
    });
    return ok ? { leader: lead.leader, term: lead.term, commit: lead.commit, digest: lead.digest, statuses } : undefined;
  }, 50);
}

/** Waits until node `id` is a voter of `space`'s group and has applied the leader's commit as of the first look. */
export async function waitCaughtUp(c: LocalCluster, space: string, id: string, deadlineMs = 60_000): Promise<void> {
  let target = -1;
  await c.until(`${id} to catch up on ${space}`, deadlineMs, async () => {
    const statuses = await c.statuses();
    const lead = statuses.map((s) => groupOf(s, space)).find((g) => g?.role === 'leader');
    const mine = groupOf(statuses.find((s) => s.nodeId === id)!, space);
    if (!lead || !mine || !lead.voters.includes(id) || mine.leader !== lead.leader) return undefined;
    if (target < 0) target = lead.commit;
    return mine.applied >= target ? true : undefined;
  }, 50);
}

/** Deterministic memories `prefix-i` with embeddings in [-1, 1). */
export function memories(prefix: string, from: number, n: number, dim: number): MemoryRecord[] {
  let seed = (from * 2654435761) >>> 0 || 1;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 31) - 1;
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${from + i}`, embedding: Float32Array.from({ length: dim }, rand), content: `m${from + i}` }));
}

export interface WriteRecord { start: number; end: number; ok: boolean; error?: string }

/**
 * Stores batches of `batch` memories back to back through `client` until `stop()` says so;
 * every write (performance.now() times) is pushed to `into` as it ends.
 */
export async function writerLoop(client: EngramClient, space: string, o: { tag: string; batch: number; dim: number; ack?: AckLevel; deadlineMs: number; stop: () => boolean; into: WriteRecord[] }): Promise<void> {
  for (let i = 0; !o.stop(); i++) {
    const start = performance.now();
    try {
      await client.store(space, { memories: memories(o.tag, i * o.batch, o.batch, o.dim), ack: o.ack ?? 'quorum' }, { deadlineMs: o.deadlineMs });
      o.into.push({ start, end: performance.now(), ok: true });
    } catch (err) {
      const e = err as Error & { code?: unknown };
      o.into.push({ start, end: performance.now(), ok: false, error: `${e.name}${e.code !== undefined ? ` (${String(e.code)})` : ''}: ${e.message}`.slice(0, 300) });
    }
  }
}

/** utime + stime of a process, seconds (/proc/<pid>/stat fields 14 and 15, 100 ticks per second). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * After the load: heal everything, wait for the replicas to catch up, then check that every
 * acknowledged write is on every copy (read back through the copy holder itself, whose executor
 * answers from its local copy), that no write was applied twice (each id is sent in exactly one
 * batch, so an id in two log records is a double apply), and that the copies agree record for
 * record.
 */
import { readFile } from 'node:fs/promises';
import type { AssignmentStatus, NodeStatus } from '../../src/client/engram-client.js';
import { decodeRecord, logPath, scanFrames } from '../../src/storage/index.js';
import { errorKind, type WrittenBatch } from './load.js';
import type { World } from './world.js';

export interface SpaceCheck {
  space: string;
  primary: string;
  replicas: string[];
  /** Per copy holder: memories, log position, store records, ids seen twice, byte-equal to the primary's log. */
  copies: { node: string; memories: number; logPosition: number; storeRecords: number; duplicatedIds: number; sameLogAsPrimary: boolean }[];
}

export interface VerifyReport {
  healMs: number;
  catchUpMs: number;
  batches: { attempted: number; acked: number; refused: number };
  memories: {
    acked: number;
    /** Acknowledged memory ids read back from every copy. */
    verified: number;
    /** Acknowledged ids absent from at least one copy: `space/id@node`. */
    missing: string[];
    /** Refused writes that are present everywhere anyway (durable on the primary before the refusal). */
    refusedButPresent: number;
    /** Refused writes present on some copies only. */
    refusedPartlyPresent: string[];
    /** Ids in more than one store record of a log, or in memory counts above the distinct ids logged. */
    duplicated: string[];
    /** Reads of a copy that could not be made (error, or answered by another node). */
    unreadable: string[];
  };
  spaces: SpaceCheck[];
  /** Copies whose memory count, log position or log bytes differ from their primary's. */
  divergent: string[];
}

async function catchUp(world: World, deadlineMs: number): Promise<NodeStatus[]> {
  return world.cluster.until('every replica to catch up', deadlineMs, async () => {
    const all = await world.cluster.statuses();
    if (all.some((s) => s.replication.some((r) => r.lag !== 0))) return undefined;
    const byNode = new Map(all.map((s) => [s.nodeId, s]));
    for (const a of all[0]!.assignments) {
      const pos = (n: string) => byNode.get(n)?.spaces.find((x) => x.id === a.space)?.logPosition;
      const p = pos(a.primary);
      if (p === undefined || a.replicas.some((r) => pos(r) !== p)) return undefined;
    }
    return all;
  });
}

/** Heals every fault, restarts killed nodes, waits for convergence and catch-up. */
export async function heal(world: World, convergeDeadlineMs: number, catchUpDeadlineMs: number): Promise<{ healMs: number; catchUpMs: number; statuses: NodeStatus[] }> {
  const t = world.now();
  for (const id of world.ids()) {
    if (world.down.has(id)) await world.restart(id);
    else {
      await world.cluster.setFault(id, { cutOff: false, delayMs: 0 });
      world.delay.set(id, 0);
    }
  }
  world.event('heal', '*', 'faults off, every node running');
  await world.cluster.waitConverged(convergeDeadlineMs);
  const healMs = world.now() - t;
  const statuses = await catchUp(world, catchUpDeadlineMs);
  return { healMs, catchUpMs: world.now() - t - healMs, statuses };
}

/** Reads `id` back through `node` (recall by its exact embedding, limit 1): true, false, or why it could not. */
async function readBack(world: World, node: string, space: string, id: string, embedding: Float32Array): Promise<boolean | string> {
  try {
    const r = await world.client(node).query({ kind: 'recall', space, cue: { embedding }, limit: 1 }, { timeoutMs: 5_000 });
    if (r.kind !== 'recall') return `answered ${r.kind}`;
    const p = r.coverage.partitions[0];
    if (!r.coverage.full || p?.node !== node) return `answered by ${p?.node ?? 'nobody'} (${p?.status ?? '-'})`;
    return r.memories[0]?.id === id;
  } catch (err) {
    return errorKind(err);
  }
}

async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** What one copy's log holds: store records, ids and how often each was written. */
async function scanLog(dataDir: string, space: string): Promise<{ bytes: Buffer; records: number; stores: number; idCounts: Map<string, number> }> {
  const path = logPath(dataDir, space);
  const bytes = await readFile(path);
  const { payloads } = scanFrames(bytes, path);
  const idCounts = new Map<string, number>();
  let stores = 0;
  for (const p of payloads) {
    const rec = decodeRecord(p);
    if (rec.type !== 'store') continue;
    stores++;
    for (const m of rec.memories) idCounts.set(m.id, (idCounts.get(m.id) ?? 0) + 1);
  }
  return { bytes, records: payloads.length, stores, idCounts };
}

export async function verify(world: World, batches: WrittenBatch[], statuses: NodeStatus[], timing: { healMs: number; catchUpMs: number }): Promise<VerifyReport> {
  const byNode = new Map(statuses.map((s) => [s.nodeId, s]));
  const assignments = new Map<string, AssignmentStatus>(statuses[0]!.assignments.map((a) => [a.space, a]));
  const report: VerifyReport = {
    ...timing,
    batches: { attempted: batches.length, acked: batches.filter((b) => b.acked).length, refused: batches.filter((b) => !b.acked).length },
    memories: { acked: 0, verified: 0, missing: [], refusedButPresent: 0, refusedPartlyPresent: [], duplicated: [], unreadable: [] },
    spaces: [],
    divergent: [],
  };
  // Presence: every memory of every batch, on every copy, through that copy's own node.
  const jobs: { b: WrittenBatch; i: number }[] = [];
  for (const b of batches) for (let i = 0; i < b.ids.length; i++) jobs.push({ b, i });
  const presentIds = new Map<string, Set<string>>();
  await pool(jobs, 32, async ({ b, i }) => {
    const a = assignments.get(b.space)!;
    const holders = [a.primary, ...a.replicas];
    const id = b.ids[i]!;
    const seen: string[] = [];
    for (const node of holders) {
      let got = await readBack(world, node, b.space, id, b.embeddings[i]!);
      if (typeof got === 'string') got = await readBack(world, node, b.space, id, b.embeddings[i]!);
      if (typeof got === 'string') report.memories.unreadable.push(`${b.space}/${id}@${node}: ${got}`);
      else if (got) seen.push(node);
    }
    if (seen.length > 0) {
      let set = presentIds.get(b.space);
      if (!set) presentIds.set(b.space, (set = new Set()));
      set.add(id);
    }
    if (b.acked) {
      report.memories.acked++;
      if (seen.length === holders.length) report.memories.verified++;
      else for (const node of holders.filter((h) => !seen.includes(h))) report.memories.missing.push(`${b.space}/${id}@${node}`);
    } else if (seen.length === holders.length) report.memories.refusedButPresent++;
    else if (seen.length > 0) report.memories.refusedPartlyPresent.push(`${b.space}/${id} on ${seen.join(',')} of ${holders.join(',')}`);
  });
  // Logs: no id twice, copies byte-equal to the primary, counts agree.
  for (const [space, a] of [...assignments].sort()) {
    const check: SpaceCheck = { space, primary: a.primary, replicas: a.replicas, copies: [] };
    const primaryLog = await scanLog(world.cluster.node(a.primary).dataDir, space);
    const present = presentIds.get(space) ?? new Set<string>();
    for (const node of [a.primary, ...a.replicas]) {
      const log = node === a.primary ? primaryLog : await scanLog(world.cluster.node(node).dataDir, space);
      const st = byNode.get(node)?.spaces.find((s) => s.id === space);
      const twice = [...log.idCounts].filter(([, n]) => n > 1);
      for (const [id, n] of twice) report.memories.duplicated.push(`${space}/${id}@${node} in ${n} records`);
      const same = log.bytes.equals(primaryLog.bytes);
      check.copies.push({ node, memories: st?.memories ?? -1, logPosition: st?.logPosition ?? -1, storeRecords: log.stores, duplicatedIds: twice.length, sameLogAsPrimary: same });
      if (!same) report.divergent.push(`${space}@${node}: log differs from the primary's (${log.records} vs ${primaryLog.records} records)`);
      if (st && st.memories !== log.idCounts.size) report.memories.duplicated.push(`${space}@${node}: ${st.memories} memories for ${log.idCounts.size} distinct ids logged`);
      if (st && st.memories !== present.size) report.divergent.push(`${space}@${node}: ${st.memories} memories, ${present.size} distinct ids read back`);
      if (st && st.logPosition !== log.records) report.divergent.push(`${space}@${node}: log position ${st.logPosition}, ${log.records} records on disk`);
    }
    report.spaces.push(check);
  }
  return report;
}

/**
 * Re-making a lost copy: 4 nodes with --reassign-after 2000, a space with 3 copies holding
 * MEMORIES memories; kill -9 one copy holder (a follower of the group, not the metadata leader
 * when there is a choice) for good and follow, from the survivors' status every POLL_MS, the
 * milestones until the replacement is a voter with the leader's digest. `dataCaughtUp` (the
 * copy holds the leader's digest, still a learner maybe) separates the data transfer from the
 * pacing of the membership changes.
 */
import { performance } from 'node:perf_hooks';
import type { NodeStatus } from '../../src/client/engram-client.js';
import { groupOf, memories, r1, waitSettled, withCluster } from './harness.js';

const POLL_MS = 100;
const BATCH = 500;
export const RECOPY_DIM = 64;

export interface RecopyResult {
  memories: number; dimension: number; reassignAfterMs: number; killed: string; replacement: string; loadMs: number;
  /** Milliseconds from the kill (performance clock) to each milestone seen. */
  fromKillMs: { seenDown?: number; tableMoved?: number; learner?: number; dataCaughtUp?: number; voter?: number; caughtUp?: number; deadCopyRemoved?: number };
  /** From the table naming the replacement (the committed setCopies, as polled) to caught up. */
  moveToCaughtUpMs?: number;
  /** From the table naming the replacement to the replacement holding the leader's data. */
  moveToDataMs?: number;
}

export async function recopy(count: number, log: (s: string) => void): Promise<RecopyResult> {
  const space = 'recopy';
  return withCluster(4, { extraArgs: ['--reassign-after', '2000'] }, async (c) => {
    const created = await c.node('n1').client.createSpace(space, { dimension: RECOPY_DIM, copies: 3 });
    const copies = [created.primary, ...created.replicas];
    const writer = c.node(copies[0]!).client;
    const tLoad = performance.now();
    for (let i = 0; i < count; i += BATCH) {
      await writer.store(space, { memories: memories('rc', i, Math.min(BATCH, count - i), RECOPY_DIM) }, { deadlineMs: 60_000 });
    }
    const loadMs = performance.now() - tLoad;
    const settled = await waitSettled(c, space, 3, 120_000);
    const st0 = settled.statuses.find((s) => s.nodeId === settled.leader)!;
    const voters = groupOf(st0, space)!.voters;
    const metaLeader = st0.meta?.leader ?? '';
    const followers = voters.filter((v) => v !== settled.leader);
    const victim = followers.find((v) => v !== metaLeader) ?? followers[0]!;
    const spare = c.running().map((n) => n.id).find((id) => !voters.includes(id))!;
    log(`  ${count} memories × ${RECOPY_DIM} dims loaded in ${r1(loadMs)} ms; copies ${voters.join(',')} (leader ${settled.leader}, meta leader ${metaLeader}); killing ${victim}, spare ${spare}`);
    const t0 = performance.now();
    await c.node(victim).proc.kill9();
    const seen: RecopyResult['fromKillMs'] = {};
    const mark = (k: keyof RecopyResult['fromKillMs']) => {
      if (seen[k] === undefined) {
        seen[k] = r1(performance.now() - t0);
        log(`    +${seen[k]} ms ${k}`);
      }
    };
    const survivors = c.running();
    await c.until('the replacement copy to catch up', 300_000, async () => {
      const all: NodeStatus[] = await c.statuses(survivors);
      if (all.some((s) => s.members.some((m) => m.id === victim && (m.state === 'down' || m.state === 'left')))) mark('seenDown');
      if (all.some((s) => s.assignments.some((a) => a.space === space && [a.primary, ...a.replicas].includes(spare)))) mark('tableMoved');
      const lead = all.map((s) => groupOf(s, space)).find((g) => g?.role === 'leader');
      const sp = groupOf(all.find((s) => s.nodeId === spare)!, space);
      if (!lead) return undefined;
      if (lead.learners.includes(spare) || lead.voters.includes(spare)) mark('learner');
      // The copy holds the leader's data (still a learner, maybe): what the snapshot-free catch-up costs.
      if (sp && sp.digest === lead.digest && sp.applied >= lead.commit) mark('dataCaughtUp');
      if (lead.voters.includes(spare)) mark('voter');
      if (lead.voters.includes(spare) && sp && sp.digest === lead.digest && sp.applied === lead.applied) mark('caughtUp');
      if (!lead.voters.includes(victim) && !lead.learners.includes(victim)) mark('deadCopyRemoved');
      return seen.caughtUp !== undefined && seen.deadCopyRemoved !== undefined ? true : undefined;
    }, POLL_MS);
    return {
      memories: count, dimension: RECOPY_DIM, reassignAfterMs: 2000, killed: victim, replacement: spare, loadMs: r1(loadMs), fromKillMs: seen,
      ...(seen.tableMoved !== undefined && seen.caughtUp !== undefined ? { moveToCaughtUpMs: r1(seen.caughtUp - seen.tableMoved) } : {}),
      ...(seen.tableMoved !== undefined && seen.dataCaughtUp !== undefined ? { moveToDataMs: r1(seen.dataCaughtUp - seen.tableMoved) } : {}),
    };
  });
}

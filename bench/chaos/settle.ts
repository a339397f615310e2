/**
 * When the cluster has settled: every space of the table has all its copies on running nodes, one
 * leader every copy agrees on, voters equal to the table's copies (no learner left), every copy
 * applied what its group committed, and the copies' digests are equal. Polled, never waited for
 * by the clock; what the poll last saw goes into the timeout error, so a stuck heal says why.
 */
import type { NodeStatus } from '../../src/client/engram-client.js';
import type { World } from './world.js';

export interface SettledSpace {
  space: string;
  copies: string[];
  leader: string;
  term: number;
  commit: number;
  /** The least `applied` among the copies. */
  minApplied: number;
  digest: string;
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().join() === [...b].sort().join();

/**
 * Why `spaces` are not settled in `all` (statuses of every running node), or the settled state.
 * `live`: writes are still flowing, so the copies' commits, applied indexes and digests cannot be
 * caught equal in one poll; only the shape (leader, voters) is required here, and waitSettled
 * asks for the copies to reach a commit index seen earlier instead.
 */
export function settledState(all: NodeStatus[], spaces: readonly string[], running: ReadonlySet<string>, live = false): SettledSpace[] | string {
  const byNode = new Map(all.map((s) => [s.nodeId, s]));
  // The newest table any node holds: the metadata group's latest committed placement.
  const table = [...all].sort((a, b) => b.tableVersion - a.tableVersion)[0];
  if (!table) return 'no node answered';
  const out: SettledSpace[] = [];
  for (const space of spaces) {
    const a = table.assignments.find((x) => x.space === space);
    if (!a) return `${space}: not in the table`;
    const copies = [a.primary, ...a.replicas].filter((x) => x !== '');
    const missing = copies.filter((c) => !running.has(c));
    if (missing.length) return `${space}: copies on ${missing.join(',')}, not running`;
    const groups = copies.map((c) => byNode.get(c)?.groups.find((g) => g.space === space));
    const first = groups[0];
    for (const [i, g] of groups.entries()) {
      const c = copies[i]!;
      if (!g) return `${space}: no group on ${c}`;
      if (!g.leader || !copies.includes(g.leader)) return `${space}: ${c} knows no leader among the copies (${g.leader || 'none'})`;
      if (!sameSet(g.voters, copies) || g.learners.length) return `${space}: ${c} has voters ${g.voters.join(',')} learners ${g.learners.join(',')}, table copies ${copies.join(',')}`;
      if (g.leader !== first!.leader) return `${space}: ${c} says the leader is ${g.leader}, ${copies[0]} says ${first!.leader}`;
      if (live) continue;
      if (g.applied !== g.commit) return `${space}: ${c} applied ${g.applied} of ${g.commit}`;
      if (g.commit !== first!.commit || g.digest !== first!.digest) {
        return `${space}: ${c} (leader ${g.leader}, commit ${g.commit}, digest ${g.digest.slice(0, 8)}) ≠ ${copies[0]} (leader ${first!.leader}, commit ${first!.commit}, digest ${first!.digest.slice(0, 8)})`;
      }
    }
    if (groups.filter((g) => g!.role === 'leader').length !== 1) return `${space}: ${groups.filter((g) => g!.role === 'leader').length} copies say they lead`;
    const lead = groups.find((g) => g!.role === 'leader')!;
    out.push({ space, copies, leader: lead.leader, term: lead.term, commit: lead.commit, minApplied: Math.min(...groups.map((g) => g!.applied)), digest: first!.digest });
  }
  return out;
}

/**
 * Polls the running nodes until `spaces` settled (see settledState). `live` (load running): the
 * shape first, then every copy must apply what the leader had committed at that point.
 */
export async function waitSettled(world: World, spaces: readonly string[], deadlineMs: number, live = false): Promise<SettledSpace[]> {
  let why = '';
  let target: Map<string, number> | undefined;
  try {
    return await world.cluster.until('the space groups to settle', deadlineMs, async () => {
      const running = world.upIds();
      const all = await world.cluster.statuses(running.map((id) => world.cluster.node(id)));
      const s = settledState(all, spaces, new Set(running), live);
      if (typeof s === 'string') {
        why = s;
        return undefined;
      }
      if (!live) return s;
      target ??= new Map(s.map((x) => [x.space, x.commit]));
      const behind = s.find((x) => x.minApplied < target!.get(x.space)!);
      if (behind) {
        why = `${behind.space}: a copy applied ${behind.minApplied} of ${target.get(behind.space)}`;
        return undefined;
      }
      return s;
    }, 100);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${why}`);
  }
}

/** The leader of `space` and its other voters, as the running nodes report them now. */
export async function groupRoles(world: World, space: string, deadlineMs: number): Promise<{ leader: string; followers: string[] }> {
  return world.cluster.until(`a leader of ${space}`, deadlineMs, async () => {
    const running = world.upIds().filter((id) => !world.cut.has(id));
    const all = await world.cluster.statuses(running.map((id) => world.cluster.node(id)));
    const leaders = all.flatMap((s) => s.groups.filter((g) => g.space === space && g.role === 'leader').map((g) => ({ node: s.nodeId, g })));
    if (leaders.length !== 1) return undefined;
    const { node, g } = leaders[0]!;
    return { leader: node, followers: g.voters.filter((v) => v !== node) };
  }, 100);
}

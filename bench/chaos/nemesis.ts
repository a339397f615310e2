/**
 * The nemesis: one fault at a time, aimed at whoever holds the role it targets at that moment
 * (the leader of a space, found through `status`), healed, then the cluster must settle (one
 * leader, voters = the table's copies, copies identical) before the next fault. A fault's window
 * runs from its injection to that settlement; the checker counts the operations in each window.
 */
import type { ChaosOptions, NemesisKind } from './options.js';
import { pause } from './load.js';
import { groupRoles, waitSettled } from './settle.js';
import type { World } from './world.js';

export interface NemesisContext {
  world: World;
  o: ChaosOptions;
  spaces: string[];
  /** Next free node number for `add-node`. */
  nextNode: number;
}

/** Node ids `add-node` will use, so a network namespace can be made for each in advance. */
export function addedNodeIds(o: ChaosOptions): string[] {
  const adds = o.nemeses.filter((k) => k === 'add-node').length * o.rounds;
  return Array.from({ length: adds }, (_, i) => `n${o.nodes + i + 1}`);
}

const pickOf = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;

/** Injects and heals one fault; returns the node it hit and what it did (or why it was skipped). */
async function inject(kind: NemesisKind, ctx: NemesisContext, round: number): Promise<{ node: string; detail: string }> {
  const { world, o } = ctx;
  const space = pickOf(ctx.spaces, round);
  const roles = () => groupRoles(world, space, o.settleDeadlineMs);
  switch (kind) {
    case 'kill-leader': {
      const { leader } = await roles();
      await world.kill9(leader);
      await pause(o.faultHoldMs);
      await world.start(leader);
      return { node: leader, detail: `leader of ${space}` };
    }
    case 'cut-leader':
    case 'cut-follower': {
      const { leader, followers } = await roles();
      const node = kind === 'cut-leader' ? leader : pickOf(followers, round);
      await world.setCut(node, true);
      await pause(o.faultHoldMs);
      await world.setCut(node, false);
      return { node, detail: `${kind === 'cut-leader' ? 'leader' : 'follower'} of ${space} cut into a minority of one` };
    }
    case 'wipe-follower':
    case 'wipe-leader': {
      const { leader, followers } = await roles();
      const node = kind === 'wipe-leader' ? leader : pickOf(followers, round);
      await world.wipe(node);
      return { node, detail: `${kind === 'wipe-leader' ? 'leader' : 'follower'} of ${space}: kill -9, data directory removed, started empty` };
    }
    case 'rolling-restart': {
      // Like an operator: the next node only once the cluster is whole again.
      const ids = world.upIds();
      for (const id of ids) {
        await world.stop(id);
        await world.start(id);
        await waitSettled(world, ctx.spaces, o.settleDeadlineMs, true);
      }
      return { node: '*', detail: `SIGTERM + start of ${ids.join(', ')}, one at a time` };
    }
    case 'add-node': {
      const id = `n${ctx.nextNode++}`;
      await world.start(id);
      return { node: id, detail: 'new empty node joined' };
    }
    case 'remove-node': {
      // Removing a node leaves at least replicationFactor nodes, or no copy could be re-made.
      const up = world.upIds();
      if (up.length <= o.replicationFactor) return { node: '-', detail: `skipped: ${up.length} nodes, ${o.replicationFactor} copies per space` };
      const { leader } = await roles();
      const node = pickOf(up.filter((id) => id !== leader), round);
      await world.remove(node);
      return { node, detail: `kill -9, never restarted (copies re-made after --reassign-after ${o.reassignAfterMs} ms)` };
    }
  }
}

/** Runs every nemesis of the schedule (each kind in turn, `rounds` times); returns how many ran. */
export async function runNemeses(ctx: NemesisContext, log: (msg: string) => void): Promise<number> {
  const { world, o } = ctx;
  let count = 0;
  for (let round = 0; round < o.rounds; round++) {
    for (const kind of o.nemeses) {
      const start = world.now();
      world.event('nemesis', '-', kind);
      const { node, detail } = await inject(kind, ctx, round);
      const healed = world.now();
      world.event('heal', node, `${kind}: ${detail}`);
      const settled = await waitSettled(world, ctx.spaces, o.settleDeadlineMs, true);
      const end = world.now();
      world.event('settled', node, settled.map((s) => `${s.space} leader ${s.leader} term ${s.term} on ${s.copies.join(',')}`).join('; '));
      world.windows.push({ kind, node, start, healed, end });
      log(`${kind} ${node}: ${detail}; settled ${Math.round(end - healed)} ms after the heal`);
      count++;
      await pause(o.quietMs);
    }
  }
  return count;
}

/**
 * The fault schedule: after a warm-up, faults one at a time in a fixed cycle — kill -9 and
 * restart, delay, flap (kill and restart a few times quickly), cut off (as root: the node's own
 * network namespace loses its link, so gossip and gRPC both stop; otherwise the test-only fault
 * switch, which drops gossip only) — each followed by a quiet period. A fault's window runs
 * from its injection until the cluster has converged again after its heal. Kills and flaps rotate
 * over the last nodes, delays and cuts over the first ones, so some nodes are never restarted
 * (their file descriptors and resources are compared before and after).
 */
import type { ChaosOptions } from './options.js';
import { pause } from './load.js';
import type { World } from './world.js';

type FaultKind = 'kill9' | 'delay' | 'cut' | 'flap';
// The cut last in a cycle: its heal (the node rejoining through gossip) takes longest.
const CYCLE: FaultKind[] = ['kill9', 'delay', 'flap', 'cut'];

/** Runs faults until `endAt` (ms since the start of the load) or `stopped()`; returns how many ran. */
export async function runSchedule(world: World, o: ChaosOptions, endAt: number, convergeDeadlineMs: number): Promise<number> {
  const ids = world.ids();
  // Restarted: the last third (at least one); delayed / cut: the others.
  const restartable = ids.slice(Math.max(1, ids.length - Math.max(1, Math.floor(ids.length / 2))));
  const steady = ids.filter((id) => !restartable.includes(id));
  await pause(o.warmupMs);
  let count = 0;
  for (let i = 0; ; i++) {
    const kind = CYCLE[i % CYCLE.length]!;
    const round = Math.floor(i / CYCLE.length);
    const need = kind === 'flap' ? o.flaps * (o.flapDownMs + 2_000) : o.faultHoldMs + 2_000;
    if (world.now() + need > endAt) break;
    const node = kind === 'kill9' || kind === 'flap' ? restartable[(round + (kind === 'flap' ? 1 : 0)) % restartable.length]! : steady[(round + (kind === 'cut' ? 1 : 0)) % steady.length]!;
    const start = world.now();
    switch (kind) {
      case 'kill9':
        await world.kill9(node);
        await pause(o.faultHoldMs);
        await world.restart(node);
        break;
      case 'delay':
        await world.setDelay(node, o.delayMs);
        await pause(o.faultHoldMs);
        await world.setDelay(node, 0);
        break;
      case 'cut':
        await world.setCut(node, true);
        await pause(o.faultHoldMs);
        await world.setCut(node, false);
        break;
      case 'flap':
        world.event('flap', node, `${o.flaps} × (kill -9, ${o.flapDownMs} ms down, restart)`);
        for (let f = 0; f < o.flaps; f++) {
          await world.kill9(node);
          await pause(o.flapDownMs);
          await world.restart(node);
          if (f < o.flaps - 1) await pause(o.flapDownMs);
        }
        break;
    }
    await world.cluster.waitConverged(convergeDeadlineMs);
    world.event('converged', node);
    world.windows.push({ kind, node, start, end: world.now() });
    count++;
    if (world.now() + o.quietMs > endAt) break;
    await pause(o.quietMs);
  }
  return count;
}

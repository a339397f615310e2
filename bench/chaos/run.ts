/**
 * One chaos run: a LocalCluster (every node in a network namespace of its own when root), spaces
 * with N copies, concurrent writers and readers recording a history while the nemesis runs its
 * schedule, then the final settlement, every copy read back through its own node, and the
 * history checked against those copies (checker.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../src/cluster/local-cluster.js';
import { NetBridge, NetNs } from '../../test/helpers/netns.js';
import { check, type CheckReport } from './checker.js';
import { readCopies, type CopyRead } from './copies.js';
import { History, type HistoryEvent } from './history.js';
import { Load, pause } from './load.js';
import { addedNodeIds, runNemeses } from './nemesis.js';
import type { ChaosOptions } from './options.js';
import { waitSettled, type SettledSpace } from './settle.js';
import { loadGraphs } from './spreads.js';
import { World, type Crash, type FaultEvent, type FaultWindow } from './world.js';

export interface ChaosReport {
  options: ChaosOptions;
  /** Whether cuts were real (network namespaces) or the fault switch's. */
  realCuts: boolean;
  loadMs: number;
  totalMs: number;
  nemeses: number;
  faults: FaultEvent[];
  windows: FaultWindow[];
  settled: SettledSpace[];
  check: CheckReport;
  copies: Omit<CopyRead, 'ids'>[];
  crashes: Crash[];
  unhandledRejections: string[];
  nodeErrorLogLines: number;
  /** The whole history (kept in the JSON; the doc reports counts). */
  history: HistoryEvent[];
  logDir: string;
  ok: boolean;
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = (msg: string) => o.verbose && process.stderr.write(`[chaos] ${msg}\n`);
  const unhandled: string[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(String((err as Error)?.stack ?? err));
  process.on('unhandledRejection', onUnhandled);
  const logDir = await mkdtemp(join(os.tmpdir(), 'engram-chaos-logs-'));
  const ids = [...Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`), ...addedNodeIds(o)];
  // Any node may come to lead a space, so every node gets a namespace the nemesis can cut.
  const bridge = o.netns && NetNs.available() ? NetBridge.create(ids) : undefined;
  const cluster = new LocalCluster({
    ...(o.timing ? { timing: o.timing } : {}),
    ...(bridge ? { network: bridge } : {}),
    faults: true,
    prefix: 'engram-chaos-',
    extraArgs: ['--replication-factor', String(o.replicationFactor), '--reassign-after', String(o.reassignAfterMs), ...o.extraArgs],
  });
  const world = new World(cluster, logDir);
  const history = new History(() => world.now());
  const spaces = Array.from({ length: o.spaces }, (_, i) => `chaos-s${i}`);
  let report: ChaosReport | undefined;
  try {
    await cluster.start(o.nodes);
    for (const n of cluster.nodes.values()) world.adopt(n);
    log(`${o.nodes} nodes up (logs in ${logDir}, cuts ${bridge ? 'by network namespace' : 'by the fault switch'})`);
    for (const s of spaces) await world.client('n1').createSpace(s, { dimension: o.dimension, copies: o.replicationFactor });
    await waitSettled(world, spaces, o.settleDeadlineMs);
    const oracle = o.spreadReaders > 0 ? await loadGraphs(world, o) : undefined;

    const load = new Load(world, history, spaces, o, oracle);
    const loadStart = world.now();
    load.start();
    let nemeses = 0;
    try {
      await pause(o.warmupMs);
      nemeses = await runNemeses({ world, o, spaces, nextNode: o.nodes + 1 }, log);
    } finally {
      await load.stop();
    }
    const loadMs = world.now() - loadStart;
    const settled = await waitSettled(world, spaces, o.settleDeadlineMs);
    log(`load done: ${history.events.length} events, ${nemeses} nemeses; reading every copy`);
    const copies = await readCopies(world, settled, o.dimension);
    const verdict = check(history.operations(), copies, world.windows, oracle);

    world.expectAllExits();
    world.closeClients();
    await cluster.stop();
    report = {
      options: o,
      realCuts: !!bridge,
      loadMs: Math.round(loadMs),
      totalMs: 0,
      nemeses,
      faults: world.events,
      windows: world.windows.map((w) => ({ ...w, start: Math.round(w.start), healed: Math.round(w.healed), end: Math.round(w.end) })),
      settled,
      check: verdict,
      copies: copies.map(({ ids: _ids, ...rest }) => rest),
      crashes: world.crashes,
      unhandledRejections: unhandled,
      nodeErrorLogLines: world.errorLogLines,
      history: history.events,
      logDir,
      ok: verdict.violations.length === 0 && world.crashes.length === 0 && unhandled.length === 0,
    };
  } finally {
    world.expectAllExits();
    world.closeClients();
    await cluster.stop().catch(() => undefined);
    bridge?.destroy();
    await world.closeLogs().catch(() => undefined);
    process.off('unhandledRejection', onUnhandled);
  }
  report.totalMs = Math.round(world.now());
  if (report.ok) await rm(logDir, { recursive: true, force: true });
  return report;
}

/**
 * One chaos run: a LocalCluster with the fault switch and /metrics on, spaces with replication
 * factor N, the load and the fault schedule for a bounded time, then heal, verify, compare
 * resources, tear everything down, and return the report with each invariant's verdict.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../src/cluster/local-cluster.js';
import { NetBridge, NetNs } from '../../test/helpers/netns.js';
import { runSchedule } from './faults.js';
import { Load, pause, type QueryRecord } from './load.js';
import type { ChaosOptions } from './options.js';
import { grown, nodeResources, ownResources, type NodeResources } from './resources.js';
import { heal, verify, type VerifyReport } from './verify.js';
import { World, type FaultEvent, type FaultWindow } from './world.js';
import { spreadOf, type Spread } from '../common.js';

export interface Invariant { name: string; ok: boolean; detail: string }

export interface ChaosReport {
  options: ChaosOptions;
  loadMs: number;
  totalMs: number;
  faultsInjected: number;
  faults: FaultEvent[];
  windows: FaultWindow[];
  queries: {
    total: number;
    byKind: Record<string, number>;
    full: number;
    partial: number;
    errors: Record<string, number>;
    /** The first few errors of each kind: which coordinator, when (ms since the load started). */
    errorExamples: Record<string, { via: string; at: number; kind: string }[]>;
    deadlineViolations: number;
    violationExamples: QueryRecord[];
    coverageProblems: number;
    coverageExamples: { kind: string; via: string; problems: string[] }[];
    /** Partial or all-failed answers with no fault overlapping the query (machine load, or a bug). */
    unexplainedPartial: number;
    latencyMs: { duringFaults: Spread; withoutFaults: Spread };
    latencyByKindMs: Record<string, { duringFaults: Spread; withoutFaults: Spread }>;
  };
  writes: {
    attempted: number;
    acked: number;
    refused: Record<string, number>;
    latencyMs: { duringFaults: Spread; withoutFaults: Spread };
    /** Acknowledged log positions given out twice in one space. */
    repeatedPositions: string[];
  };
  verify: VerifyReport;
  crashes: { node: string; pid: number; exit: number | string; at: number }[];
  uncleanStops: string[];
  unhandledRejections: string[];
  nodeErrorLogLines: number;
  resources: {
    nodes: { node: string; before: NodeResources; after: NodeResources; grownTypes: Record<string, [number, number]> }[];
    generator: { before: Record<string, number>; after: Record<string, number>; grownTypes: Record<string, [number, number]> };
  };
  logDir: string;
  invariants: Invariant[];
  ok: boolean;
}

const log = (o: ChaosOptions, msg: string) => o.verbose && process.stderr.write(`[chaos] ${msg}\n`);

function split<T>(xs: T[], faulty: (x: T) => boolean, value: (x: T) => number): { duringFaults: Spread; withoutFaults: Spread } {
  return { duringFaults: spreadOf(xs.filter(faulty).map(value), 2), withoutFaults: spreadOf(xs.filter((x) => !faulty(x)).map(value), 2) };
}

function countBy<T>(xs: T[], key: (x: T) => string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) {
    const k = key(x);
    if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

function errorExamples(q: QueryRecord[], loadStart: number): Record<string, { via: string; at: number; kind: string }[]> {
  const out: Record<string, { via: string; at: number; kind: string }[]> = {};
  for (const r of q) {
    if (!r.error) continue;
    const list = (out[r.error] ??= []);
    if (list.length < 5) list.push({ via: r.via, at: Math.round(r.start - loadStart), kind: r.kind });
  }
  return out;
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const ownBefore = ownResources();
  const unhandled: string[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(String((err as Error)?.stack ?? err));
  process.on('unhandledRejection', onUnhandled);
  const logDir = await mkdtemp(join(os.tmpdir(), 'engram-chaos-logs-'));
  // The nodes the schedule cuts (the never-restarted first ones) each get a namespace.
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const cuttable = ids.slice(0, ids.length - Math.max(1, Math.floor(ids.length / 2)));
  const bridge = o.netns && NetNs.available() ? NetBridge.create(cuttable) : undefined;
  const cluster = new LocalCluster({
    ...(o.timing ? { timing: o.timing } : {}),
    ...(bridge ? { network: bridge } : {}),
    metrics: true,
    faults: true,
    prefix: 'engram-chaos-',
    extraArgs: ['--replication-factor', String(o.replicationFactor), ...o.extraArgs],
  });
  const world = new World(cluster, logDir);
  const convergeMs = 6 * cluster.detectionBudgetMs(Math.max(o.nodes, 3)) + 5_000;
  const started = world.now();
  let report: ChaosReport | undefined;
  try {
    await cluster.start(o.nodes);
    for (const n of cluster.nodes.values()) world.adopt(n);
    log(o, `${o.nodes} nodes up (logs in ${logDir}); convergence deadline ${convergeMs} ms`);
    const spaces = Array.from({ length: o.spaces }, (_, i) => `chaos-s${i}`);
    for (const s of spaces) await world.client('n1').createSpace(s, { dimension: o.dimension, copies: o.replicationFactor });
    await cluster.waitConverged(convergeMs);
    // Warm every coordinator's connections to every copy, so the baseline counts them.
    const cue = { embedding: new Float32Array(o.dimension).fill(1 / Math.sqrt(o.dimension)) };
    for (const id of world.ids()) {
      await world.client(id).query({ kind: 'imagine', spaces, cue, limit: 1 }, { timeoutMs: 2_000 });
      for (const s of spaces) await world.client(id).query({ kind: 'recall', space: s, cue, limit: 1 }, { timeoutMs: 2_000 });
    }
    await pause(200);
    const before = new Map<string, NodeResources>();
    for (const n of cluster.nodes.values()) {
      await cluster.setFault(n.id, { collectGarbage: true });
      before.set(n.id, await nodeResources(n.id, n.proc.pid, n.proc.metricsAddress));
    }

    const load = new Load(world, spaces, o);
    const loadStart = world.now();
    load.start();
    log(o, `load: ${o.writers} writers, ${o.readers} readers over ${spaces.length} spaces (RF ${o.replicationFactor}) for ${o.durationMs} ms`);
    let faultsInjected = 0;
    try {
      faultsInjected = await runSchedule(world, o, loadStart + o.durationMs, convergeMs);
      const left = loadStart + o.durationMs - world.now();
      if (left > 0) await pause(left);
    } finally {
      await load.stop();
    }
    const loadMs = world.now() - loadStart;
    log(o, `load done: ${load.queries.length} queries, ${load.batches.length} writes, ${faultsInjected} faults; healing`);

    const healed = await heal(world, convergeMs, Math.max(30_000, convergeMs));
    log(o, `healed in ${Math.round(healed.healMs)} ms, caught up in ${Math.round(healed.catchUpMs)} ms; verifying`);
    const verified = await verify(world, load.batches, healed.statuses, healed);
    log(o, `verified ${verified.memories.verified}/${verified.memories.acked} acknowledged memories`);

    // Resources of the nodes never restarted: poll until back within tolerance (or the deadline).
    const steady = world.ids().filter((id) => !world.restarted.has(id));
    const within = (b: NodeResources, a: NodeResources) =>
      a.fds <= b.fds + o.fdTolerance && a.activeTotal <= b.activeTotal + o.resourceTolerance && a.heapUsedBytes <= b.heapUsedBytes + o.heapToleranceBytes;
    const after = new Map<string, NodeResources>();
    await cluster
      .until('node resources back to baseline', 15_000, async () => {
        for (const id of steady) {
          const n = cluster.node(id);
          await cluster.setFault(id, { collectGarbage: true });
          after.set(id, await nodeResources(id, n.proc.pid, n.proc.metricsAddress));
        }
        return steady.every((id) => within(before.get(id)!, after.get(id)!)) ? true : undefined;
      }, 500)
      .catch(() => undefined);

    // Teardown: every node exit from here on is expected; a stop that is not clean is reported.
    world.expectAllExits();
    world.closeClients();
    await cluster.stop();
    const uncleanStops = [...cluster.nodes.values()].filter((n) => n.proc.child.exitCode !== 0).map((n) => `${n.id}: exit ${n.proc.child.exitCode ?? n.proc.child.signalCode}`);
    await world.closeLogs();
    let ownAfter = ownResources();
    await cluster
      .until('this process back to its baseline', 5_000, async () => {
        ownAfter = ownResources();
        return Object.keys(grown(ownBefore, ownAfter)).length === 0 ? true : undefined;
      })
      .catch(() => undefined);

    const q = load.queries;
    const faultyQ = (r: QueryRecord) => world.faulty(r.start, r.start + r.latencyMs);
    const violations = q.filter((r) => r.latencyMs > r.boundMs);
    const covBad = q.filter((r) => r.coverageProblems.length > 0);
    const kinds = [...new Set(q.map((r) => r.kind))].sort();
    const positions = new Map<string, number>();
    const repeatedPositions: string[] = [];
    for (const b of load.batches) {
      if (!b.acked) continue;
      const k = `${b.space}@${b.logPosition}`;
      if (positions.has(k)) repeatedPositions.push(k);
      positions.set(k, 1);
    }
    const nodesRes = steady.map((id) => ({ node: id, before: before.get(id)!, after: after.get(id)!, grownTypes: grown(before.get(id)!.activeResources, after.get(id)!.activeResources) }));
    report = {
      options: o,
      loadMs: Math.round(loadMs),
      totalMs: 0,
      faultsInjected,
      faults: world.events,
      windows: world.windows.map((w) => ({ ...w, start: Math.round(w.start - loadStart), end: Math.round(w.end - loadStart) })),
      queries: {
        total: q.length,
        byKind: countBy(q, (r) => r.kind),
        full: q.filter((r) => r.outcome === 'full').length,
        partial: q.filter((r) => r.outcome === 'partial').length,
        errors: countBy(q, (r) => r.error),
        errorExamples: errorExamples(q, loadStart),
        deadlineViolations: violations.length,
        violationExamples: violations.slice(0, 10),
        coverageProblems: covBad.length,
        coverageExamples: covBad.slice(0, 10).map((r) => ({ kind: r.kind, via: r.via, problems: r.coverageProblems })),
        unexplainedPartial: q.filter((r) => (r.outcome === 'partial' || r.error === 'UNAVAILABLE/ERR_ALL_PARTITIONS_FAILED') && !faultyQ(r)).length,
        latencyMs: split(q, faultyQ, (r) => r.latencyMs),
        latencyByKindMs: Object.fromEntries(kinds.map((k) => [k, split(q.filter((r) => r.kind === k), faultyQ, (r) => r.latencyMs)])),
      },
      writes: {
        attempted: load.batches.length,
        acked: load.batches.filter((b) => b.acked).length,
        refused: countBy(load.batches, (b) => b.error),
        latencyMs: split(load.batches, (b) => world.faulty(b.start, b.start + b.latencyMs), (b) => b.latencyMs),
        repeatedPositions,
      },
      verify: verified,
      crashes: world.crashes,
      uncleanStops,
      unhandledRejections: unhandled,
      nodeErrorLogLines: world.errorLogLines,
      resources: { nodes: nodesRes, generator: { before: ownBefore, after: ownAfter, grownTypes: grown(ownBefore, ownAfter) } },
      logDir,
      invariants: [],
      ok: false,
    };
    const v = verified.memories;
    const inv = (name: string, ok: boolean, detail: string) => report!.invariants.push({ name, ok, detail });
    inv('1 every query returned within timeoutMs + slack (+ delay injected on its coordinator)', violations.length === 0,
      `${violations.length} of ${q.length} over their bound${violations[0] ? `; worst ${Math.round(Math.max(...violations.map((r) => r.latencyMs - r.boundMs)))} ms over` : ''}`);
    inv('2 coverage consistent: full ⇔ responding = expected ⇔ penalty 0, penalty = formula, no ok from a node down throughout', covBad.length === 0,
      `${covBad.length} answers with problems; ${report.queries.partial} partial, ${report.queries.unexplainedPartial} partial/failed outside fault windows`);
    inv('3 no acknowledged write missing after heal + catch-up (read back from every copy)', v.missing.length === 0 && v.unreadable.length === 0 && v.verified === v.acked,
      `${v.verified}/${v.acked} acknowledged memories on every copy; ${v.missing.length} missing, ${v.unreadable.length} copies unreadable`);
    inv('4 no write applied twice; copies identical', v.duplicated.length === 0 && verified.divergent.length === 0 && v.refusedPartlyPresent.length === 0 && repeatedPositions.length === 0,
      `${v.duplicated.length} duplicated, ${verified.divergent.length} divergent copies, ${v.refusedPartlyPresent.length} refused writes on some copies only, ${repeatedPositions.length} log positions acknowledged twice`);
    inv('5 no crash, no unhandled rejection, clean stops', world.crashes.length === 0 && unhandled.length === 0 && uncleanStops.length === 0,
      `${world.crashes.length} node crashes, ${unhandled.length} unhandled rejections in the generator, ${uncleanStops.length} unclean stops; ${world.errorLogLines} error lines in node logs`);
    const resBad = nodesRes.filter((r) => !within(r.before, r.after));
    const genGrown = Object.keys(report.resources.generator.grownTypes);
    inv(`6 fds (+${o.fdTolerance}), active resources (+${o.resourceTolerance}), heap (+${o.heapToleranceBytes / 2 ** 20} MiB) back to baseline`, resBad.length === 0 && genGrown.length === 0,
      `nodes ${steady.join(',')}: ${nodesRes.map((r) => `${r.node} fds ${r.before.fds}→${r.after.fds}, resources ${r.before.activeTotal}→${r.after.activeTotal}, heap ${Math.round(r.before.heapUsedBytes / 2 ** 20)}→${Math.round(r.after.heapUsedBytes / 2 ** 20)} MiB`).join('; ')}; generator grown: ${genGrown.join(',') || 'none'}`);
    report.ok = report.invariants.every((i) => i.ok);
  } finally {
    world.expectAllExits();
    world.closeClients();
    await cluster.stop().catch(() => undefined);
    bridge?.destroy();
    await world.closeLogs().catch(() => undefined);
    process.off('unhandledRejection', onUnhandled);
  }
  report.totalMs = Math.round(world.now() - started);
  if (report.ok) await rm(logDir, { recursive: true, force: true });
  return report;
}

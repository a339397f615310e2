/**
 * Aggregates the suites' JSON files of one results directory into `latest.json`: for every DESIGN
 * §6 id the measured value, unit, p50/p99, target, goal and whether each is met; the throughput
 * and fanout tables; the P5 latency distributions (percentiles 0…100); machine and command.
 * A suite without a file leaves its ids `measured: false`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg, machine, pct, round } from './common.js';

export interface IdResult {
  id: string;
  what: string;
  measured: boolean;
  value: number | null;
  unit: string;
  p50: number | null;
  p99: number | null;
  /** Unit of p50/p99 when it differs from `unit`. */
  percentileUnit?: string;
  target: string;
  goal: string;
  /** null where DESIGN sets no seed target. */
  targetMet: boolean | null;
  goalMet: boolean | null;
  detail?: string;
  source: string;
  date?: string;
  quick?: boolean;
}

export interface Latest {
  date: string;
  command: string;
  machine: Record<string, string | number>;
  loadavgAtAggregation: number[];
  ids: IdResult[];
  throughput: { clients: number; qps: number; p50Ms: number; p99Ms: number; queries: number; loadavg: number[] }[] | null;
  fanout: { partitions: number; nodes: number; p50Ms: number; p99Ms: number; meanMs: number; n: number }[] | null;
  /** P5 client-side latency percentiles 0…100 (101 values, ms) per series. */
  p5Distributions: Record<string, number[]> | null;
  /** P5 ratios to the owner path: non-owner and owner-aware client, Recall and Spread. */
  p5Ratios: { nonOwner: Json; client: Json | null } | null;
  /** One slow copy: per coordinator mode, clean and faulty percentiles and the extra calls. */
  slowCopy: { rows: Json[]; goal: Json; setup: Json } | null;
  /** The task card's naive coordinator against ours (bench/naive-coordinator.ts), as its JSON has it. */
  naive: Json | null;
  /** A Spread over several spaces against the union graph's (bench/cross-spread.ts), as its JSON has it. */
  crossSpread: Json | null;
  /** The pulse merge of bench/gather.ts (10 × 10,000, 50% overlap), native and TS side by side. */
  pulseMerge: Json | null;
  sources: Record<string, { date: string; command: string; quick: boolean; machine?: Record<string, unknown>; loadavg?: unknown } | null>;
}

export const SUITE_FILES = ['gather', 'engine', 'query', 'timeout', 'pool-memory', 'throughput', 'fanout', 'cluster', 'slow-copy', 'naive', 'cross-spread'] as const;

const DESIGN: Record<string, { what: string; target: string; goal: string; unit: string; source: string }> = {
  P1: { what: 'gather, Spread, 10 partitions x 10,000 activations (50% overlap)', target: '< 0.5 ms per partition', goal: '<= 0.1 ms per partition, native >= 5x TS', unit: 'ms per partition', source: 'gather.json' },
  P2: { what: 'gather, Recall, 10 partitions x top-100 (30% duplicate ids)', target: '< 0.5 ms per partition', goal: '<= 0.02 ms per partition', unit: 'ms per partition', source: 'gather.json' },
  P3: { what: 'penalty over a 1,000,000-float Float32Array, in place', target: '-', goal: '<= 0.3 ms', unit: 'ms', source: 'gather.json' },
  P4: { what: 'scatter overhead: plan + dispatch to 10 targets, network excluded', target: '< 1 ms', goal: '<= 0.2 ms', unit: 'ms', source: 'query.json' },
  P5: { what: 'intra-partition query through a non-owner vs the owner, p50 and p99 (worst ratio of Recall/Spread)', target: '< 2x', goal: '<= 1.5x; owner-aware client <= 1.1x; owner-as-coordinator adds <= 0.05 ms', unit: 'x', source: 'query.json' },
  P6: { what: 'connection reuse under steady load', target: '> 95%', goal: '>= 99.9%', unit: '%', source: 'query.json' },
  P7: { what: 'partial answer after a partition stops answering (deadline to answer, client side, max)', target: 'within 100 ms of the timeout', goal: 'within 10 ms', unit: 'ms', source: 'timeout.json' },
  P8: { what: 'memory per pooled connection (rss)', target: '< 10 MB', goal: '< 0.5 MB', unit: 'MB', source: 'pool-memory.json' },
  E1: { what: 'engine: Spread on a 1,000-memory / 5,000-edge graph, one node (p50)', target: '1-5 ms', goal: '<= 2 ms p50', unit: 'ms', source: 'engine.json' },
  E2: { what: 'engine: Recall top-10 over 10,000 x 768-dim memories, one node (p50)', target: '-', goal: '<= 5 ms p50', unit: 'ms', source: 'engine.json' },
};

type Json = Record<string, any>;

function read(dir: string, file: string): Json | null {
  const path = join(dir, file);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Json) : null;
}

const r = (x: unknown, d = 4): number | null => (typeof x === 'number' && Number.isFinite(x) ? round(x, d) : null);

function idResult(id: string, src: Json | null, fill: (s: Json) => Omit<IdResult, 'id' | 'what' | 'target' | 'goal' | 'source' | 'measured' | 'unit'> & { unit?: string }): IdResult {
  const d = DESIGN[id]!;
  const base = { id, what: d.what, target: d.target, goal: d.goal, source: d.source, unit: d.unit };
  if (!src?.targets?.[id]) return { ...base, measured: false, value: null, p50: null, p99: null, targetMet: null, goalMet: null };
  return { ...base, measured: true, date: src.date, quick: !!src.quick, ...fill(src) };
}

/** The aggregate of the JSON files in `dir` (see SUITE_FILES). */
export function aggregate(dir: string, command: string): Latest {
  const s = Object.fromEntries(SUITE_FILES.map((f) => [f, read(dir, `${f}.json`)])) as Record<(typeof SUITE_FILES)[number], Json | null>;
  const g = s.gather;
  const gatherId = (id: string) => idResult(id, g, (x) => {
    const t = x.targets[id];
    return {
      value: r(t.msPerPartition ?? t.p50), p50: r(t.p50), p99: r(t.p99), percentileUnit: t.msPerPartition !== null ? 'ms, whole merge' : undefined,
      targetMet: t.targetMet, goalMet: t.goalMet,
      detail: `${t.backend}${t.nativeSpeedup ? `, native ${t.nativeSpeedup.toFixed(1)}x the TS merge` : ''}`,
    };
  });
  const q = s.query;
  const ids: IdResult[] = [
    gatherId('P1'), gatherId('P2'), gatherId('P3'),
    idResult('P4', q, (x) => ({ value: r(x.targets.P4.p50Ms), p50: r(x.targets.P4.p50Ms), p99: r(x.targets.P4.p99Ms), targetMet: x.targets.P4.targetMet, goalMet: x.targets.P4.goalMet })),
    idResult('P5', q, (x) => {
      const rt = x.p5.cluster.ratios;
      return {
        value: r(x.targets.P5.worstRatio, 3), p50: r(Math.max(rt.recall.p50, rt.spread.p50), 3), p99: r(Math.max(rt.recall.p99, rt.spread.p99), 3), percentileUnit: 'x (worst of Recall/Spread)',
        targetMet: x.targets.P5.targetMet, goalMet: x.targets.P5.goalMet,
        detail: `Recall ${rt.recall.p50}x p50 / ${rt.recall.p99}x p99, Spread ${rt.spread.p50}x / ${rt.spread.p99}x` +
          (x.p5.cluster.clientRatios ? `; owner-aware client ${x.targets.P5.worstClientRatio}x owner at worst` : '') +
          `; in-process executor +${x.targets.P5.inProcessDiffMs} ms over a direct engine call`,
      };
    }),
    idResult('P6', q, (x) => ({ value: r(100 * x.targets.P6.ratio, 3), p50: null, p99: null, targetMet: x.targets.P6.targetMet, goalMet: x.targets.P6.goalMet, detail: `${x.p6.steady.calls} calls over ${x.p6.steady.durationMs} ms, ${x.p6.steady.clients} clients, ${x.p6.steady.connectionsCreated} connections created` })),
    idResult('P7', s.timeout, (x) => {
      const t = x.targets.P7;
      return { value: r(t.maxMs, 3), p50: r(t.p50Ms, 3), p99: r(t.p99Ms, 3), targetMet: t.targetMet, goalMet: t.goalMet, detail: `coordinator side (timer lateness): p50 ${t.coordinatorSide.p50Ms} / p99 ${t.coordinatorSide.p99Ms} / max ${t.coordinatorSide.maxMs} ms; ${x.setup.runs} runs` };
    }),
    idResult('P8', s['pool-memory'], (x) => {
      const t = x.targets.P8;
      return { value: r(t.rssMBPerConnection), p50: null, p99: null, targetMet: t.targetMet, goalMet: t.goalMet, detail: `heapUsed+external ${t.heapPlusExternalMBPerConnection} MB per connection; median of ${x.setup.rounds} rounds` };
    }),
    idResult('E1', s.engine, (x) => ({ value: r(x.targets.E1.p50Ms), p50: r(x.targets.E1.p50Ms), p99: r(x.targets.E1.p99Ms), targetMet: x.targets.E1.targetMet, goalMet: x.targets.E1.goalMet })),
    idResult('E2', s.engine, (x) => ({ value: r(x.targets.E2.p50Ms), p50: r(x.targets.E2.p50Ms), p99: r(x.targets.E2.p99Ms), targetMet: x.targets.E2.targetMet, goalMet: x.targets.E2.goalMet })),
  ];
  const samples = q?.p5?.cluster?.samplesMs as Record<string, number[]> | undefined;
  const p5Distributions = samples
    ? Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, Array.from({ length: 101 }, (_, p) => round(pct(xs, p), 4))]))
    : null;
  return {
    date: new Date().toISOString(),
    command,
    // The machine the suites ran on (from their files), not the one aggregating.
    machine: (SUITE_FILES.map((f) => s[f]?.machine).find(Boolean) as Record<string, string | number> | undefined) ?? machine(),
    loadavgAtAggregation: loadavg(),
    ids,
    throughput: s.throughput?.throughput?.map((t: Json) => ({ clients: t.clients, qps: t.qps, p50Ms: t.p50Ms, p99Ms: t.p99Ms, queries: t.queries, loadavg: t.loadavg })) ?? null,
    fanout: s.fanout?.fanout?.map((f: Json) => ({ partitions: f.partitions, nodes: f.nodes, p50Ms: f.p50Ms, p99Ms: f.p99Ms, meanMs: f.meanMs, n: f.n })) ?? null,
    p5Distributions,
    p5Ratios: q?.p5?.cluster?.ratios ? { nonOwner: q.p5.cluster.ratios, client: q.p5.cluster.clientRatios ?? null } : null,
    slowCopy: s['slow-copy'] ? { rows: s['slow-copy'].rows, goal: s['slow-copy'].goal, setup: s['slow-copy'].setup } : null,
    naive: s.naive ?? null,
    crossSpread: s['cross-spread'] ?? null,
    pulseMerge: s.gather?.pulses ?? null,
    sources: Object.fromEntries(SUITE_FILES.map((f) => [f, s[f] ? { date: s[f]!.date, command: s[f]!.command, quick: !!s[f]!.quick, machine: s[f]!.machine, loadavg: s[f]!.loadavg ?? s[f]!.loadavgEnd } : null])),
  };
}

export function writeLatest(dir: string, command: string): string {
  const path = join(dir, 'latest.json');
  writeFileSync(path, JSON.stringify(aggregate(dir, command), null, 2) + '\n');
  return path;
}

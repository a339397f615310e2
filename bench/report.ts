/**
 * Writes `docs/performance.md` and its two SVG charts from the benchmark JSON — generated, never
 * edited by hand. Reads `<in>/latest.json` (or aggregates the suite files of `<in>` when there is
 * none); `npm run bench` runs it last.
 *
 *   node dist/bench/report.js [--in DIR (default bench/results)] [--out DIR (default docs)]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULTS_DIR } from './common.js';
import { aggregate, type IdResult, type Latest } from './latest.js';
import { lineChart } from './svg-chart.js';

export const DOCS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs');
export const FANOUT_SVG = 'perf-fanout-latency.svg';
export const P5_SVG = 'perf-p5-owner-vs-non-owner.svg';

const yesNo = (v: boolean | null) => (v === null ? '-' : v ? 'yes' : '**no**');
const num = (v: number | null) => (v === null ? '-' : Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString());
const cell = (s: string) => s.replace(/\|/g, '\\|');

function idsTable(ids: IdResult[]): string {
  const rows = ids.map((i) => {
    const unit = i.unit === 'x' ? '×' : i.unit;
    const pu = i.percentileUnit ? ` (${i.percentileUnit})` : '';
    return `| ${i.id} | ${cell(i.what)} | ${i.measured ? `${num(i.value)} ${unit}` : 'not measured'} | ${i.p50 === null ? '-' : num(i.p50) + pu} | ${i.p99 === null ? '-' : num(i.p99)} | ${cell(i.target)} | ${cell(i.goal)} | ${yesNo(i.targetMet)} | ${yesNo(i.goalMet)} | ${cell(i.detail ?? '')}${i.quick ? ' (quick run)' : ''} |`;
  });
  return ['| id | what | measured | p50 | p99 | seed target | goal | target met | goal met | notes |', '|---|---|---|---|---|---|---|---|---|---|', ...rows].join('\n');
}

function fanoutSvg(l: Latest): string | null {
  if (!l.fanout?.length) return null;
  const f = l.fanout;
  return lineChart({
    title: 'Imagine latency against fanout',
    subtitle: `client-side, through a coordinator holding no partition; ${f[0]!.n} queries per point`,
    xLabel: 'partitions (log scale)', yLabel: 'latency, ms', xScale: 'log', xTicks: f.map((x) => x.partitions),
    xMin: Math.min(...f.map((x) => x.partitions)), xMax: Math.max(...f.map((x) => x.partitions)),
    series: [
      { name: 'p50', color: '#1f77b4', points: f.map((x) => [x.partitions, x.p50Ms] as const) },
      { name: 'p99', color: '#d62728', dashed: true, points: f.map((x) => [x.partitions, x.p99Ms] as const) },
    ],
  });
}

const P5_SERIES: [string, string, string, boolean][] = [
  ['recallOwner', 'Recall, owner', '#1f77b4', false],
  ['recallNonOwner', 'Recall, non-owner', '#1f77b4', true],
  ['recallClient', 'Recall, owner-aware client', '#9467bd', false],
  ['spreadOwner', 'Spread, owner', '#2ca02c', false],
  ['spreadNonOwner', 'Spread, non-owner', '#2ca02c', true],
  ['spreadClient', 'Spread, owner-aware client', '#ff7f0e', false],
];

function p5Svg(l: Latest): string | null {
  const d = l.p5Distributions;
  if (!d) return null;
  // x up to the largest p99: the few slower samples would squash the body of the curves.
  const xMax = Math.max(...P5_SERIES.map(([k]) => d[k]?.[99] ?? 0));
  return lineChart({
    title: 'P5: owner vs non-owner vs owner-aware client (cumulative distribution)',
    subtitle: 'client-side ms, one query in flight, the three paths interleaved; x cut at the largest p99',
    xLabel: 'latency, ms', yLabel: 'percentile', xMin: 0, xMax, yMin: 0, yMax: 100,
    series: P5_SERIES.filter(([k]) => d[k]).map(([k, name, color, dashed]) => ({ name, color, dashed, markers: false, points: d[k]!.map((ms, p) => [ms, p] as const) })),
  });
}

/** The naive-vs-ours table from bench/results/naive.json (bench/naive-coordinator.ts). */
function naiveSection(n: Record<string, any>): string {
  const out: string[] = [];
  const st = n.setup ?? {};
  out.push(`${st.nodes ?? '?'} node processes on loopback, ${(st.spaces ?? []).length} spaces of ${st.memoriesPerSpace ?? '?'} memories × ${st.dimension ?? '?'} dims, one copy each. ` +
    '*naive*: the coordinator the task card sketches, in the bench process — a new grpc-js channel per call to each owner\'s public `ExecuteQuery`, `Promise.all`, row-wise protobuf results, a JS `Map` merge. ' +
    '*naive-pooled*: the same with one channel per node kept open (the card\'s own pool). *ours*: `EngramClient` → one node\'s plan, pooled scatter and native gather. ' +
    `Ms, client side; load average ${(n.loadavg?.start ?? []).join(' ')} at the start.`);
  out.push('');
  out.push('| query | partitions | coordinator | 1 client p50 | p99 | 8 clients q/s | p50 | p99 |');
  out.push('|---|---|---|---|---|---|---|---|');
  for (const r of n.rows ?? []) {
    out.push(`| ${r.kind} | ${r.partitions} | ${r.coordinator} | ${num(r.oneClient?.p50Ms ?? null)} | ${num(r.oneClient?.p99Ms ?? null)} | ${num(r.clients8?.qps ?? null)} | ${num(r.clients8?.p50Ms ?? null)} | ${num(r.clients8?.p99Ms ?? null)} |`);
  }
  if (n.absent?.why) {
    out.push('');
    out.push(`Not in the table: ${(n.absent.rows ?? []).join(', ')}. ${n.absent.why}`);
  }
  return out.join('\n');
}

function crossSpreadSection(c: Record<string, any>): string {
  const s = c.setup;
  const a = c.across;
  const u = c.union;
  return [
    `${s.spaces} spaces × ${s.memoriesPerSpace.toLocaleString('en')} memories, ${s.edgesPerMemory} associations per memory, ${100 * s.crossShare}% of them to another space's memory; ${s.copies} copy per space on ${s.dataNodes} nodes, asked through a fifth (${s.coordinator}) that holds none. The same graph as one space (every memory as SPACE/ID) on ${s.coordinator}. ${s.seeds} random seeds, ${s.hops} hops, defaults otherwise; ${s.queries} queries per path, one in flight, the two paths interleaved. The first ${c.checkedEqual} answers were checked equal to the union graph's (1e-6).`,
    '',
    '| path | p50 ms | p99 ms | mean ms | rounds | pulse bytes sent / received per query | merge ms per query (share of the coordinator\'s query time) |',
    '|---|---|---|---|---|---|---|',
    `| across ${s.spaces} spaces | ${num(a.p50)} | ${num(a.p99)} | ${num(a.mean)} | ${a.roundsMean} (max ${a.roundsMax}) | ${a.bytesSentPerQuery.toLocaleString('en')} / ${a.bytesReceivedPerQuery.toLocaleString('en')} | ${num(a.mergeMsPerQuery)} (${num(100 * a.mergeShare)}%) |`,
    `| union graph, one space | ${num(u.p50)} | ${num(u.p99)} | ${num(u.mean)} | 1 | - | - |`,
    '',
    `Across / union: ${c.ratio.p50}× at p50, ${c.ratio.p99}× at p99 (the union graph's engine time alone: p50 ${num(u.engineP50)} ms). ${a.activationsMean} activations per answer.`,
  ].join('\n');
}

export function renderMarkdown(l: Latest): string {
  const m = l.machine;
  const out: string[] = [];
  out.push('# Performance');
  out.push('');
  out.push('<!-- Generated by bench/report.ts from bench/results/*.json (npm run bench). Do not edit by hand. -->');
  out.push('');
  out.push(`Measured ${l.date.slice(0, 10)} with \`${l.command}\` on ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}` +
    `${m.kernel ? ` (kernel ${m.kernel})` : ''}. The machine is shared with other work: load average at aggregation ${l.loadavgAtAggregation.join(' / ')} (1/5/15 min); each suite's JSON records its own. ` +
    'Every figure is one run; ratios are measured side by side in that run. Targets are DESIGN §6.');
  out.push('');
  out.push('## Targets');
  out.push('');
  out.push(idsTable(l.ids));
  out.push('');
  const unmet = l.ids.filter((i) => i.targetMet === false);
  const goalsMissed = l.ids.filter((i) => i.goalMet === false);
  const notMeasured = l.ids.filter((i) => !i.measured);
  out.push((unmet.length ? `Seed targets not met: ${unmet.map((i) => i.id).join(', ')}.` : 'Every measured seed target is met.') +
    (goalsMissed.length ? ` Goals not met: ${goalsMissed.map((i) => i.id).join(', ')}.` : ' Every measured goal is met.') +
    (notMeasured.length ? ` Not measured: ${notMeasured.map((i) => i.id).join(', ')}.` : ''));
  out.push('');
  out.push('## Throughput of one coordinator');
  out.push('');
  if (l.throughput?.length) {
    out.push('Recall top-10 through a non-owner node of a 3-node loopback cluster (1,000 memories × 64 dims on the owner), closed loop; the clients run in one process and share its connection to the coordinator.');
    out.push('');
    out.push('| concurrent clients | queries/s | p50 ms | p99 ms | queries | load avg |');
    out.push('|---|---|---|---|---|---|');
    for (const t of l.throughput) out.push(`| ${t.clients} | ${t.qps} | ${num(t.p50Ms)} | ${num(t.p99Ms)} | ${t.queries} | ${t.loadavg.join(' ')} |`);
  } else out.push('Not measured.');
  out.push('');
  out.push('## Latency against fanout');
  out.push('');
  if (l.fanout?.length) {
    out.push('Imagine (limit 5) over 1, 3, 10 and 30 spaces of 200 memories × 32 dims, placed round-robin on 4 nodes; the coordinator (a 5th node) holds none. One query in flight, fanouts interleaved.');
    out.push('');
    out.push('| partitions | owner nodes | p50 ms | p99 ms | mean ms | queries |');
    out.push('|---|---|---|---|---|---|');
    for (const f of l.fanout) out.push(`| ${f.partitions} | ${f.nodes} | ${num(f.p50Ms)} | ${num(f.p99Ms)} | ${num(f.meanMs)} | ${f.n} |`);
    out.push('');
    out.push(`![Imagine latency against fanout](${FANOUT_SVG})`);
  } else out.push('Not measured.');
  out.push('');
  out.push('## P5: owner, non-owner, owner-aware client');
  out.push('');
  const d = l.p5Distributions;
  if (d) {
    out.push('One space on n1 (1,000 memories × 64 dims) of a 3-node loopback cluster. *Owner*: the client calls n1. *Non-owner*: it calls n2, which asks n1 and passes n1\'s answer on as received. *Owner-aware client*: an `EngramClient` given only n2 learns the placement table and calls n1 itself.');
    out.push('');
    if (l.p5Ratios) {
      out.push('| ratio to the owner path | Recall p50 | Recall p99 | Spread p50 | Spread p99 |');
      out.push('|---|---|---|---|---|');
      const row = (name: string, x: Record<string, Record<string, number>>) => `| ${name} | ${x.recall!.p50}× | ${x.recall!.p99}× | ${x.spread!.p50}× | ${x.spread!.p99}× |`;
      out.push(row('non-owner (goal ≤ 1.5×)', l.p5Ratios.nonOwner));
      if (l.p5Ratios.client) out.push(row('owner-aware client (goal ≤ 1.1×)', l.p5Ratios.client));
      out.push('');
    }
    out.push('| series | p10 ms | p50 ms | p90 ms | p99 ms | max ms |');
    out.push('|---|---|---|---|---|---|');
    for (const [k, name] of P5_SERIES) if (d[k]) out.push(`| ${name} | ${num(d[k]![10]!)} | ${num(d[k]![50]!)} | ${num(d[k]![90]!)} | ${num(d[k]![99]!)} | ${num(d[k]![100]!)} |`);
    out.push('');
    out.push(`![P5 owner vs non-owner latency distributions](${P5_SVG})`);
  } else out.push('Not measured.');
  out.push('');
  out.push('## One slow copy: fixed order, copy ranking, hedging');
  out.push('');
  const sc = l.slowCopy;
  if (sc) {
    out.push(`Recall top-10 over 3 copies through three coordinators that hold none: *fixed* tries the primary first (\`--copy-ranking off --hedge-budget 0\`), *ranked* orders copies by measured rank (C3 / Elasticsearch ARS, \`--hedge-budget 0\`), *hedged* ranks and hedges after the recent p95 with a 5% budget (the defaults). One query in flight, the three interleaved; then the primary delays ${100 * sc.setup.fault.probability}% of its answers by ${sc.setup.fault.delayMs} ms. ${sc.setup.queriesPerCoordinatorPerPhase} queries per coordinator per phase.`);
    out.push('');
    out.push('| coordinator | no fault p50 | p99 | p99.9 | slow copy p50 | p99 | p99.9 | p99 slow/no fault | extra calls | answers n1/n2/n3 |');
    out.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const row of sc.rows) {
      out.push(`| ${row.mode} | ${num(row.clean.p50)} | ${num(row.clean.p99)} | ${num(row.clean.p999)} | ${num(row.fault.p50)} | ${num(row.fault.p99)} | ${num(row.fault.p999)} | ${row.p99VsClean}× | ${row.extraCalls} (${num(100 * row.extraCallShare)}%) | ${['n1', 'n2', 'n3'].map((n) => row.answeredBy[n] ?? 0).join(' / ')} |`);
    }
    out.push('');
    out.push(`Goal: ranking + hedging keeps p99 under the fault within 1.5× the no-fault p99 (fixed order) with ≤ 5% extra calls: ${sc.goal.p99Ratio}×, ${num(100 * sc.goal.extraCallShare)}% — ${sc.goal.met ? 'met' : '**not met**'}.`);
  } else out.push('Not measured.');
  out.push('');
  out.push('## A Spread over several spaces against the union graph');
  out.push('');
  if (l.crossSpread) out.push(crossSpreadSection(l.crossSpread));
  else out.push('Not measured.');
  const pm = l.pulseMerge;
  if (pm) {
    out.push('');
    out.push(`The pulse sum merge alone (\`npm run bench:gather\`, f64 in, wire columns out, ${pm.partitions} partitions × ${pm.entries.toLocaleString('en')} pulses, 50% overlap): native p50 ${num(pm.native.p50)} ms (${num(pm.native.msPerPartition)} ms per partition), TS p50 ${num(pm.ts.p50)} ms — native ${num(pm.ts.p50 / pm.native.p50)}× the TS merge.`);
  }
  out.push('');
  out.push('## The task card\'s naive coordinator against ours');
  out.push('');
  if (l.naive) out.push(naiveSection(l.naive));
  else out.push('Not measured.');
  out.push('');
  out.push('## Runs');
  out.push('');
  out.push('| suite | date | command | quick | load avg |');
  out.push('|---|---|---|---|---|');
  for (const [suite, s] of Object.entries(l.sources)) {
    const la = s?.loadavg as unknown;
    const load = Array.isArray(la) ? la.join(' ') : la && typeof la === 'object' ? Object.entries(la as Record<string, number[]>).map(([k, v]) => `${k} ${v[0]}`).join(', ') : '-';
    out.push(s ? `| ${suite} | ${s.date} | \`${s.command}\` | ${s.quick ? 'yes' : 'no'} | ${load} |` : `| ${suite} | - | not run | - | - |`);
  }
  out.push('');
  return out.join('\n');
}

/** Writes performance.md and the SVGs into `outDir`; returns the paths written. */
export function writeReport(inDir: string, outDir: string): string[] {
  const latestPath = join(inDir, 'latest.json');
  const latest: Latest = existsSync(latestPath) ? JSON.parse(readFileSync(latestPath, 'utf8')) : aggregate(inDir, 'node dist/bench/report.js');
  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  const put = (name: string, text: string | null) => {
    if (text === null) return;
    writeFileSync(join(outDir, name), text);
    written.push(join(outDir, name));
  };
  put(FANOUT_SVG, fanoutSvg(latest));
  put(P5_SVG, p5Svg(latest));
  put('performance.md', renderMarkdown(latest));
  return written;
}

function argDir(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? resolve(args[i + 1]!) : fallback;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const p of writeReport(argDir('--in', RESULTS_DIR), argDir('--out', DOCS_DIR))) console.log(`wrote ${p}`);
}

/**
 * Gather benchmarks P1-P3 (DESIGN §6): native and TS merges side by side in one run, from wire
 * columns (Uint8Array views at an odd byte offset, as protobufjs hands them over) to merged
 * columns, over partitions × entries. Also measures the crossover (total rows below which the
 * TS merge is as fast as the FFI call) that the facade's thresholds come from.
 *
 * The pulse merge (f64 values in, merged wire columns out, for a Spread over several spaces)
 * runs on P1's shape, native and TS side by side.
 *
 * P1's figures come from alternating rounds of the TS and native merges on one input (see
 * `sideBySide`), reported with the machine they ran on: CPU model, cores and load average
 * before and after, since on a shared machine the ratio moves with the load.
 *
 *   node dist/bench/gather.js [--quick] [--out <dir | file.json>]
 */
import os from 'node:os';
import { relative } from 'node:path';
import { loadavg, measure, printTable, writeResults, type Measured } from './common.js';
import { encodeStrings } from '../src/wire/columns.js';
import { gatherNative } from '../src/gather/gather-engine.js';
import type { GatherNative, PulsePart, RecallPart, SpreadPart } from '../src/gather/gather-types.js';
import { referenceMergePulses } from '../src/gather/reference-pulses.js';
import { referenceMergeRecall } from '../src/gather/reference-recall.js';
import { referenceMergeSpread } from '../src/gather/reference-spread.js';
import { referenceApplyPenalty } from '../src/gather/reference-penalty.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');

const PARTITIONS = quick ? [1, 10] : [1, 3, 10, 32];
const ENTRIES = quick ? [100, 10_000] : [100, 1_000, 10_000, 100_000];
/** Entries per partition of the crossover sweep (3 partitions each), below the grid's smallest cell. */
const SWEEP = quick ? [2, 20] : [1, 3, 10, 30, 60];
const PENALTY_SIZES = quick ? [100, 10_000] : [100, 300, 1_000, 10_000, 100_000];
const P3_VALUES = 1_000_000;
/** Wall time each task aims for, ms; iterations adapt so a 1 s merge runs 5 times, not 500. */
const TASK_MS = quick ? 40 : 250;
const MIN_ITERATIONS = quick ? 3 : 5;
/** Alternating TS/native rounds of the P1 measurement; odd, so the median is one round's. */
const P1_ROUNDS = quick ? 3 : 9;

const native: GatherNative | null = gatherNative();

/** One partition's columns in one buffer behind a 1-byte header, so every view is unaligned. */
function wire(ids: string[], values: Array<Float32Array | Float64Array>): { ids: Uint8Array; offsets: Uint8Array; cols: Uint8Array[] } {
  const enc = encodeStrings(ids);
  const sizes = [enc.blob.byteLength, enc.offsets.byteLength, ...values.map((v) => v.byteLength)];
  const buf = new Uint8Array(1 + sizes.reduce((a, b) => a + b, 0));
  let at = 1;
  const views = [enc.blob, enc.offsets, ...values.map((v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength))].map((bytes) => {
    buf.set(bytes, at);
    at += bytes.byteLength;
    return buf.subarray(at - bytes.byteLength, at);
  });
  return { ids: views[0]!, offsets: views[1]!, cols: views.slice(2) };
}

let seed = 42;
const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);

/** P1 input: half of each partition's ids are shared by all partitions (50% overlap). */
function spreadParts(partitions: number, entries: number): SpreadPart[] {
  return Array.from({ length: partitions }, (_, k) => {
    const ids = Array.from({ length: entries }, (_, j) => (j % 2 === 0 ? `memory-${j}` : `memory-${k}-${j}`));
    const w = wire(ids, [Float32Array.from(ids, () => rnd() * 0.5)]);
    return { index: k, ids: w.ids, offsets: w.offsets, activation: w.cols[0]! };
  });
}

/** Pulse input: P1's ids, with f64 values. */
function pulseParts(partitions: number, entries: number): PulsePart[] {
  return Array.from({ length: partitions }, (_, k) => {
    const ids = Array.from({ length: entries }, (_, j) => (j % 2 === 0 ? `memory-${j}` : `memory-${k}-${j}`));
    const w = wire(ids, [Float64Array.from(ids, () => rnd() * 0.5)]);
    return { index: k, ids: w.ids, offsets: w.offsets, values: w.cols[0]! };
  });
}

/** P2 input: 30% of each partition's ids also appear in the other partitions. */
function recallParts(partitions: number, entries: number): RecallPart[] {
  return Array.from({ length: partitions }, (_, k) => {
    const ids = Array.from({ length: entries }, (_, j) => (j % 10 < 3 ? `memory-${j}` : `memory-${k}-${j}`));
    const lower = Float32Array.from(ids, () => rnd() * 0.8);
    const upper = lower.map((l) => Math.min(1, l + rnd() * 0.2));
    const w = wire(ids, [lower, upper]);
    return { index: k, ids: w.ids, offsets: w.offsets, lower: w.cols[0]!, upper: w.cols[1]! };
  });
}

/** Times `fn`, picking the iteration count from one warm call so big cells stay in budget. */
async function time(name: string, fn: () => unknown): Promise<Measured> {
  fn();
  const t0 = performance.now();
  fn();
  const once = Math.max(performance.now() - t0, 1e-3);
  const iterations = Math.max(MIN_ITERATIONS, Math.min(2000, Math.round(TASK_MS / once)));
  const [m] = await measure([[name, fn]], { timeMs: 1, iterations, warmupIterations: once > 100 ? 1 : 5 });
  return m!;
}

function timing(m: Measured, partitions: number): Timing {
  return { p50: m.p50, p99: m.p99, mean: m.mean, samples: m.samples, msPerPartition: m.p50 / partitions };
}

async function cell(kind: 'spread' | 'recall', partitions: number, entries: number): Promise<Cell> {
  const label = `${kind} ${partitions}x${entries}`;
  let nativeRun: (() => unknown) | undefined;
  let tsRun: () => unknown;
  let outRows: (r: unknown) => number;
  if (kind === 'spread') {
    const parts = spreadParts(partitions, entries);
    tsRun = () => referenceMergeSpread(parts);
    if (native) nativeRun = () => native.mergeSpread(parts);
  } else {
    const parts = recallParts(partitions, entries);
    tsRun = () => referenceMergeRecall(parts, entries);
    if (native) nativeRun = () => native.mergeRecall(parts, entries);
  }
  outRows = (r) => (r as { partition: Uint32Array }).partition.length;
  // Same input, same output size: a cheap guard that both sides merged the same thing.
  if (nativeRun && outRows(nativeRun()) !== outRows(tsRun())) throw new Error(`${label}: native and TS disagree`);
  const ts = timing(await time(`${label} ts`, tsRun), partitions);
  const nat = nativeRun ? timing(await time(`${label} native`, nativeRun), partitions) : null;
  return { kind, partitions, entries, totalRows: partitions * entries, native: nat, ts, ratio: nat ? nat.p50 / ts.p50 : null };
}

/** Median of `xs` (the middle one for an odd count). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Round { tsP50: number; nativeP50: number | null; ratio: number | null }

/**
 * P1 measured in alternating rounds, TS and native in turn on the same input (which goes first
 * alternates too): the load of a shared machine drifts within seconds, and a ratio of two
 * measurements taken apart mixes that drift in. Each round's ratio compares neighbours in
 * time; the cell reports the median round ratio and the median of each side's p50 and p99.
 */
async function sideBySide(partitions: number, entries: number): Promise<{ cell: Cell; rounds: Round[] }> {
  const parts = spreadParts(partitions, entries);
  const tsRun = () => referenceMergeSpread(parts);
  const nativeRun = native ? () => native.mergeSpread(parts) : null;
  if (nativeRun && nativeRun().partition.length !== tsRun().partition.length) throw new Error('P1: native and TS disagree');
  const ts: Measured[] = [];
  const nat: Measured[] = [];
  for (let r = 0; r < P1_ROUNDS; r++) {
    const tsTurn = async () => void ts.push(await time(`P1 round ${r} ts`, tsRun));
    const nativeTurn = async () => void (nativeRun && nat.push(await time(`P1 round ${r} native`, nativeRun)));
    if (r % 2 === 0) { await tsTurn(); await nativeTurn(); } else { await nativeTurn(); await tsTurn(); }
  }
  const rounds = ts.map((t, r) => ({ tsP50: t.p50, nativeP50: nat[r]?.p50 ?? null, ratio: nat[r] ? nat[r]!.p50 / t.p50 : null }));
  const pooled = (ms: Measured[]): Timing => {
    const p50 = median(ms.map((m) => m.p50));
    return { p50, p99: median(ms.map((m) => m.p99)), mean: median(ms.map((m) => m.mean)), samples: ms.reduce((n, m) => n + m.samples, 0), msPerPartition: p50 / partitions };
  };
  const cell: Cell = {
    kind: 'spread', partitions, entries, totalRows: partitions * entries,
    native: nat.length ? pooled(nat) : null, ts: pooled(ts),
    ratio: nat.length ? median(rounds.map((r) => r.ratio!)) : null,
  };
  return { cell, rounds };
}

async function pulseCell(partitions: number, entries: number): Promise<Cell> {
  const parts = pulseParts(partitions, entries);
  const tsRun = () => referenceMergePulses(parts);
  const nativeRun = native ? () => native.mergePulses(parts) : null;
  if (nativeRun && Buffer.compare(Buffer.from(nativeRun().values), Buffer.from(tsRun().values)) !== 0) throw new Error('pulses: native and TS disagree');
  const label = `pulses ${partitions}x${entries}`;
  const ts = timing(await time(`${label} ts`, tsRun), partitions);
  const nat = nativeRun ? timing(await time(`${label} native`, nativeRun), partitions) : null;
  return { kind: 'pulses', partitions, entries, totalRows: partitions * entries, native: nat, ts, ratio: nat ? nat.p50 / ts.p50 : null };
}

async function penaltyCell(values: number): Promise<Cell> {
  const data = Float32Array.from({ length: values }, () => rnd());
  // A penalty of 0 is a no-op, so a tiny one keeps every iteration doing the full multiply.
  const ts = timing(await time(`penalty ${values} ts`, () => referenceApplyPenalty(data, 1e-7)), 1);
  const nat = native ? timing(await time(`penalty ${values} native`, () => native.applyPenalty(data, 1e-7)), 1) : null;
  return { kind: 'penalty', partitions: 1, entries: values, totalRows: values, native: nat, ts, ratio: nat ? nat.p50 / ts.p50 : null };
}

/** Thread-pool hop of an async merge, ms: a 1-row Spread async minus its sync call. */
async function asyncOverhead(): Promise<number | null> {
  if (!native) return null;
  const parts = spreadParts(1, 1);
  const sync = await time('spread async overhead sync', () => native.mergeSpread(parts));
  const pooled = await time('spread async overhead async', () => native.mergeSpreadAsync(parts, 0));
  return Math.max(0, pooled.p50 - sync.p50);
}

/** The machine a run measured on: P1's ratio means little without it. */
function host(before: number[]) {
  return { cpuModel: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, loadavgBefore: before, loadavgAfter: loadavg() };
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = loadavg();
  const p1 = await sideBySide(10, 10_000);
  const p1Host = host(loadBefore);
  const grid: Cell[] = [];
  for (const kind of ['spread', 'recall'] as const) {
    for (const partitions of PARTITIONS) for (const entries of ENTRIES) grid.push(await cell(kind, partitions, entries));
  }
  const sweep: Cell[] = [];
  for (const kind of ['spread', 'recall'] as const) for (const entries of SWEEP) sweep.push(await cell(kind, 3, entries));
  const penalties: Cell[] = [];
  for (const n of PENALTY_SIZES) penalties.push(await penaltyCell(n));
  const p3 = await penaltyCell(P3_VALUES);
  const pulses = await pulseCell(10, 10_000);
  const hop = await asyncOverhead();

  const rows = (cells: Cell[]) => cells.map((c) => ({
    case: `${c.kind} ${c.partitions}x${c.entries}`,
    rows: c.totalRows,
    'ts p50 ms': c.ts.p50,
    'ts p99 ms': c.ts.p99,
    'native p50 ms': c.native?.p50 ?? 'n/a',
    'native p99 ms': c.native?.p99 ?? 'n/a',
    'native ms/part': c.native?.msPerPartition ?? 'n/a',
    'ts ms/part': c.ts.msPerPartition,
    'native/ts': c.ratio ?? 'n/a',
  }));
  printTable(`gather grid (native: ${native ? 'loaded' : 'unavailable'}; ratio < 1 = native faster)`, rows(grid));
  printTable('crossover sweep (3 partitions)', rows(sweep));
  printTable('applyPenalty (in place)', rows([...penalties, p3]));
  printTable('pulse merge (f64 in, wire columns out), 50% overlap', rows([pulses]));

  const all = [...grid, ...sweep];
  const result = summarize({ grid, sweep, penalties, p3, p1: p1.cell, asyncHopMs: hop, crossover: {
    spreadRows: crossover(all.filter((c) => c.kind === 'spread')),
    recallRows: crossover(all.filter((c) => c.kind === 'recall')),
    penaltyValues: crossover([...penalties, p3]),
  } });
  const targets = { ...result.targets, P1: result.targets.P1 && { ...result.targets.P1, rounds: p1.rounds, host: p1Host } };
  const body = { quick, nativeAvailable: !!native, durationS: (performance.now() - started) / 1000, loadavgAfter: loadavg(), ...result, targets, pulses };
  const measured = Object.entries(result.targets).filter((e): e is [string, Target] => e[1] !== null);
  printTable('targets (DESIGN §6)', measured.map(([id, t]) => ({
    id, 'p50 ms': t.p50, 'p99 ms': t.p99, 'ms/part': t.msPerPartition ?? '-', 'native/ts': t.ratio ?? 'n/a',
    target: t.target, goal: t.goal, 'target met': t.targetMet ?? '-', 'goal met': t.goalMet,
  })));
  printTable(`P1 side by side: ${P1_ROUNDS} alternating rounds on ${p1Host.cpuModel}, ${p1Host.cores} cores, ` +
    `loadavg ${p1Host.loadavgBefore.join(' ')} before, ${p1Host.loadavgAfter.join(' ')} after`, p1.rounds.map((r, i) => ({
    round: i + 1, 'ts p50 ms': r.tsP50, 'native p50 ms': r.nativeP50 ?? 'n/a', 'native ms/part': r.nativeP50 === null ? 'n/a' : r.nativeP50 / 10,
    'ts/native': r.ratio === null ? 'n/a' : 1 / r.ratio,
  })));
  const t1 = result.targets.P1;
  if (t1) {
    console.log(`P1: native p50 ${t1.p50.toFixed(3)} ms (${t1.msPerPartition?.toFixed(4)} ms/partition), TS p50 ${p1.cell.ts.p50.toFixed(3)} ms, ` +
      `native ${t1.nativeSpeedup?.toFixed(2) ?? 'n/a'}x the TS merge (median round)`);
  }
  console.log(`\ncrossover: ${JSON.stringify(result.crossover)}; thresholds: ${JSON.stringify(result.thresholds)}`);
  // The script as run (a build outside dist/ too), relative to the working directory when inside it.
  const script = relative(process.cwd(), process.argv[1]!);
  // A script outside the working directory is named by its place in the package (dist/bench/…):
  // no path of this machine goes into the results.
  const command = ['node', script.startsWith('..') ? 'dist/bench/gather.js' : script, ...args].join(' ');
  console.log(`wrote ${writeResults('gather.json', command, body)}`);
}

interface Timing { p50: number; p99: number; mean: number; samples: number; msPerPartition: number }
interface Cell {
  kind: 'spread' | 'recall' | 'penalty' | 'pulses';
  partitions: number;
  entries: number;
  totalRows: number;
  native: Timing | null;
  ts: Timing;
  /** native p50 / TS p50 (< 1: native faster). */
  ratio: number | null;
}

/**
 * Cells below this many rows decide the crossover: there the FFI call's fixed cost matters.
 * Above it the ratio reflects the two algorithms, not the call (reported apart).
 */
const FFI_RANGE_ROWS = 10_000;

/** Smallest size from which `holds` is true for every larger measured cell; null if never. */
function smallestFrom(cells: Cell[], holds: (c: Cell) => boolean): number | null {
  const sorted = [...cells].sort((a, b) => a.totalRows - b.totalRows);
  let from: number | null = null;
  for (let i = sorted.length - 1; i >= 0 && holds(sorted[i]!); i--) from = sorted[i]!.totalRows;
  return from;
}

/** Crossover: smallest size from which native p50 < TS p50 in every larger cell of the FFI range. */
function crossover(cells: Cell[]): number | null {
  if (!native) return null;
  return smallestFrom(cells.filter((c) => c.totalRows < FFI_RANGE_ROWS), (c) => c.ratio! < 1);
}

interface Target {
  what: string; backend: 'native' | 'ts'; p50: number; p99: number; msPerPartition: number | null;
  ratio: number | null; nativeSpeedup: number | null; target: string; goal: string; targetMet: boolean | null; goalMet: boolean;
}

function target(what: string, c: Cell | undefined, partitions: number | null, t: string, g: string,
  targetMet: (ms: number, speedup: number | null) => boolean | null, goalMet: (ms: number, speedup: number | null) => boolean): Target | null {
  if (!c) return null;
  const m = c.native ?? c.ts;
  // From the cell's ratio: for P1 the median of its rounds' ratios, elsewhere the same as TS p50 / native p50.
  const speedup = c.ratio !== null ? 1 / c.ratio : null;
  const ms = partitions ? m.p50 / partitions : m.p50;
  return {
    what, backend: c.native ? 'native' : 'ts', p50: m.p50, p99: m.p99, msPerPartition: partitions ? ms : null,
    ratio: c.ratio, nativeSpeedup: speedup, target: t, goal: g, targetMet: targetMet(ms, speedup), goalMet: goalMet(ms, speedup),
  };
}

function summarize(r: { grid: Cell[]; sweep: Cell[]; penalties: Cell[]; p3: Cell; p1: Cell; asyncHopMs: number | null;
  crossover: { spreadRows: number | null; recallRows: number | null; penaltyValues: number | null } }) {
  const find = (kind: string, p: number, e: number) => r.grid.find((c) => c.kind === kind && c.partitions === p && c.entries === e);
  const targets = {
    P1: target('Spread, 10 partitions x 10,000 activations, 50% overlap', r.p1, 10,
      '< 0.5 ms per partition', '<= 0.1 ms per partition, native >= 5x TS',
      (ms) => ms < 0.5, (ms, x) => ms <= 0.1 && x !== null && x >= 5),
    P2: target('Recall, 10 partitions x top-100, 30% duplicate ids', find('recall', 10, 100), 10,
      '< 0.5 ms per partition', '<= 0.02 ms per partition', (ms) => ms < 0.5, (ms) => ms <= 0.02),
    P3: target('penalty over 1,000,000 floats in place', r.p3, null, '-', '<= 0.3 ms', () => null, (ms) => ms <= 0.3),
  };
  // Off the JS thread once a merge blocks the loop for ~1 ms (and at least 10 pool hops).
  const blockMs = Math.max(1, 10 * (r.asyncHopMs ?? 0));
  const asyncMinRows = smallestFrom(r.grid, (c) => (c.native ?? c.ts).p50 >= blockMs);
  const rows = [r.crossover.spreadRows, r.crossover.recallRows].filter((x): x is number => x !== null);
  const nativeSlower = [...r.grid, ...r.sweep].filter((c) => c.ratio !== null && c.ratio >= 1 && c.totalRows >= (rows.length ? Math.max(...rows) : 0));
  return {
    targets,
    grid: r.grid,
    sweep: r.sweep,
    penalty: [...r.penalties, r.p3],
    asyncHopMs: r.asyncHopMs,
    crossover: {
      ...r.crossover,
      rows: rows.length ? Math.max(...rows) : null,
      /** Cells at or above the crossover where native still lost: an algorithm gap, not the FFI. */
      nativeSlowerAbove: nativeSlower.map((c) => `${c.kind} ${c.partitions}x${c.entries} (native/ts ${c.ratio!.toFixed(2)})`),
    },
    thresholds: {
      nativeMinRows: rows.length ? Math.max(...rows) : null,
      asyncMinRows,
      nativePenaltyMinValues: r.crossover.penaltyValues,
      method: `nativeMinRows: smallest total rows from which native p50 < TS p50 in every larger Spread and Recall cell ` +
        `below ${FFI_RANGE_ROWS} rows (sweep + grid); asyncMinRows: smallest total rows from which every grid cell's merge p50 ` +
        `(native when loaded) is >= ${blockMs.toFixed(2)} ms; nativePenaltyMinValues: the nativeMinRows rule over applyPenalty sizes`,
    },
    skipped: [] as string[],
  };
}

await main();

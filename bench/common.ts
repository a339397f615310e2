/**
 * Shared benchmark plumbing: run tinybench tasks, read p50/p99, print a table, write JSON.
 * Every figure written is one tinybench measured in this run.
 */
import { Bench } from 'tinybench';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

export interface Measured {
  name: string;
  /** Milliseconds per operation. */
  mean: number;
  p50: number;
  p99: number;
  samples: number;
}

export interface BenchOptions {
  /** Minimum time per task, ms (default 500). */
  timeMs?: number;
  /** Minimum iterations per task (default 20). */
  iterations?: number;
  warmupIterations?: number;
}

/** Runs each task (name → function) and returns its latency figures, in task order. */
export async function measure(
  tasks: ReadonlyArray<readonly [string, () => unknown | Promise<unknown>]>,
  options: BenchOptions = {},
): Promise<Measured[]> {
  const bench = new Bench({
    time: options.timeMs ?? 500,
    iterations: options.iterations ?? 20,
    warmupIterations: options.warmupIterations ?? 5,
  });
  for (const [name, fn] of tasks) bench.add(name, fn);
  await bench.run();
  return bench.tasks.map((task) => {
    const r = task.result as { state: string; latency?: { mean: number; p50: number; p99: number; samplesCount?: number; samples?: number[] }; error?: unknown };
    if (!r.latency) throw new Error(`benchmark ${task.name} did not complete: ${r.state} ${String(r.error ?? '')}`);
    return {
      name: task.name,
      mean: r.latency.mean,
      p50: r.latency.p50,
      p99: r.latency.p99,
      samples: r.latency.samplesCount ?? r.latency.samples?.length ?? 0,
    };
  });
}

/** Prints rows as an aligned table on stdout. */
export function printTable(title: string, rows: ReadonlyArray<Record<string, string | number | boolean>>): void {
  console.log(`\n${title}`);
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const fmt = (v: string | number | boolean) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c] ?? '').length)));
  console.log(cols.map((c, i) => c.padEnd(width[i]!)).join('  '));
  for (const r of rows) console.log(cols.map((c, i) => fmt(r[c] ?? '').padEnd(width[i]!)).join('  '));
}

/** Where bench JSON goes by default: `bench/results/` in the repo (dist/bench/… → ../../bench/results). */
export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');

/**
 * Where this run's JSON goes: `--out DIR` (a directory; quick runs go there, never into
 * bench/results) or `--out FILE.json` (that file), else `bench/results/<file>`.
 */
export function resultsPath(file: string, argv: readonly string[] = process.argv.slice(2)): string {
  const at = argv.indexOf('--out');
  const out = at >= 0 ? argv[at + 1] : undefined;
  if (!out) return join(RESULTS_DIR, file);
  const abs = isAbsolute(out) ? out : resolve(out);
  return abs.endsWith('.json') ? abs : join(abs, file);
}

/** Machine facts stored beside every result. */
export function machine(): Record<string, string | number> {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel: os.release(),
  };
}

/** Writes the run's JSON (see resultsPath) with the run's date, command and machine. */
export function writeResults(file: string, command: string, body: Record<string, unknown>): string {
  const path = resultsPath(file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify({ date: new Date().toISOString(), command, machine: machine(), ...body }, null, 2) + '\n');
  return path;
}

/** 1-, 5- and 15-minute load averages, 2 decimals: printed next to every figure (shared machines). */
export const loadavg = (): number[] => os.loadavg().map((x) => Math.round(x * 100) / 100);

/** Linear-interpolated percentile of `xs` (sorted copy), NaN for none. */
export function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** Rounds to `digits` decimals (JSON stays readable; the figures are not that precise anyway). */
export const round = (x: number, digits = 4): number => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x);

export interface Spread { n: number; p50: number; p99: number; max: number; mean: number; min: number }

/** p50 / p99 / max / mean / min of a sample. */
export function spreadOf(xs: readonly number[], digits = 4): Spread {
  const n = xs.length;
  return {
    n,
    p50: round(pct(xs, 50), digits),
    p99: round(pct(xs, 99), digits),
    max: round(n ? Math.max(...xs) : NaN, digits),
    mean: round(n ? xs.reduce((a, b) => a + b, 0) / n : NaN, digits),
    min: round(n ? Math.min(...xs) : NaN, digits),
  };
}

/** Value of `--name N` (a positive integer), else `fallback`. */
export function argInt(name: string, fallback: number, argv: readonly string[] = process.argv.slice(2)): number {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} needs a positive integer`);
  return n;
}

/** The positive whole number after flag `name` in `args` (e.g. `--runs 7`), or `fallback` when absent. */
export function positiveFlag(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} needs a positive integer`);
  return n;
}

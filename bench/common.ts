/**
 * Shared benchmark plumbing: run tinybench tasks, read p50/p99, print a table, write JSON.
 * Every figure written is one tinybench measured in this run.
 */
import { Bench } from 'tinybench';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

/** Where bench JSON goes: `bench/results/` in the repo (dist/bench/… → ../../bench/results). */
export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');

/** Machine facts stored beside every result. */
export function machine(): Record<string, string | number> {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** Writes `bench/results/<file>` with the run's date, command and machine. */
export function writeResults(file: string, command: string, body: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, file);
  writeFileSync(path, JSON.stringify({ date: new Date().toISOString(), command, machine: machine(), ...body }, null, 2) + '\n');
  return path;
}

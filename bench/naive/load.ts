/**
 * The two timed phases of bench/naive-coordinator.ts, both interleaved across every series so
 * drift on a shared machine reaches them alike:
 *
 * - one client: query i of every series in turn (the order rotates each round), one in flight;
 * - closed loop of `clients` concurrent clients: time slices per series, the series taking turns
 *   (rotating) over several rounds; queries/s = answers / summed slice time.
 *
 * TCP connections this process opens are counted through the `net.client.socket` diagnostics
 * channel and charged to the series running at the time (one series runs at a time).
 */
import { subscribe } from 'node:diagnostics_channel';
import type { Series } from './series.js';

let tcpConnects = 0;
subscribe('net.client.socket', () => {
  tcpConnects++;
});

export interface OneClientFigures { latMs: number[]; tcpConnects: number; channels: number; queries: number; failed: number; firstError?: string }
export interface LoadFigures { latMs: number[]; queries: number; durationMs: number; tcpConnects: number; channels: number; failed: number; firstError?: string; slices: number }

/**
 * `warmup` untimed rounds, then up to `rounds` rounds of one query of every series each; stops
 * after `minRounds` once `budgetMs` has passed (a loaded machine would otherwise stretch the run).
 */
export async function oneClient(series: readonly Series[], warmup: number, rounds: number, minRounds: number, budgetMs: number): Promise<{ figures: Map<Series, OneClientFigures>; rounds: number }> {
  const out = new Map<Series, OneClientFigures>(series.map((s) => [s, { latMs: [], tcpConnects: 0, channels: 0, queries: 0, failed: 0 }]));
  let end = Infinity;
  let i = 0;
  for (; i < warmup + rounds; i++) {
    if (i === warmup) end = performance.now() + budgetMs;
    if (i >= warmup + minRounds && performance.now() > end) break;
    for (let j = 0; j < series.length; j++) {
      const s = series[(i + j) % series.length]!;
      const c0 = tcpConnects;
      const ch0 = s.channels();
      const t = performance.now();
      let error: unknown;
      await s.send(0, i).catch((err: unknown) => {
        error = err;
      });
      const ms = performance.now() - t;
      if (i < warmup) continue;
      const f = out.get(s)!;
      if (error !== undefined) {
        f.failed++;
        f.firstError ??= String((error as Error).message ?? error).slice(0, 300);
        continue;
      }
      f.latMs.push(ms);
      f.queries++;
      f.tcpConnects += tcpConnects - c0;
      f.channels += s.channels() - ch0;
    }
  }
  return { figures: out, rounds: Math.max(0, i - warmup) };
}

/** `clients` concurrent loops sending `s`'s queries back to back until `ms` has passed. */
async function slice(s: Series, clients: number, ms: number, start: number): Promise<{ latMs: number[]; durationMs: number; failed: number; firstError?: string }> {
  const latMs: number[] = [];
  let failed = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = start + c; performance.now() < end; i += clients) {
        const t = performance.now();
        try {
          await s.send(c, i);
          latMs.push(performance.now() - t);
        } catch (err) {
          failed++;
          firstError ??= String((err as Error).message ?? err).slice(0, 300);
        }
      }
    }),
  );
  return { latMs, durationMs: performance.now() - t0, failed, ...(firstError ? { firstError } : {}) };
}

/** A warm-up slice of `warmupMs` per series, then `rounds` rounds of one `sliceMs` slice per series. */
export async function closedLoop(series: readonly Series[], clients: number, warmupMs: number, rounds: number, sliceMs: number): Promise<Map<Series, LoadFigures>> {
  const out = new Map<Series, LoadFigures>(series.map((s) => [s, { latMs: [], queries: 0, durationMs: 0, tcpConnects: 0, channels: 0, failed: 0, slices: 0 }]));
  for (const s of series) await slice(s, clients, warmupMs, 0);
  let start = 1_000_000;
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < series.length; j++) {
      const s = series[(r + j) % series.length]!;
      const f = out.get(s)!;
      const c0 = tcpConnects;
      const ch0 = s.channels();
      const x = await slice(s, clients, sliceMs, start);
      start += 100_000;
      for (const v of x.latMs) f.latMs.push(v);
      f.queries += x.latMs.length;
      f.durationMs += x.durationMs;
      f.failed += x.failed;
      f.firstError ??= x.firstError;
      f.tcpConnects += tcpConnects - c0;
      f.channels += s.channels() - ch0;
      f.slices++;
    }
  }
  return out;
}

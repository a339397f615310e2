/**
 * Spreads over several spaces under faults (DESIGN §10). Graph spaces of their own, with
 * associations across them, are loaded once (one batch per space, `ack: 'all'`) before the load
 * starts and never written again; spread readers then ask fixed Spreads over them through random
 * nodes while the nemesis runs, and the checker compares every answer with the engine's Spread
 * over the union of the graphs (test/helpers/spread-graphs.ts), computed before the run:
 *
 * - a full answer read with `consistency: 'leader'` equals it (to 1e-6, the same memories);
 * - any other answer is never more than it: only memories it reaches, each activation at most its
 *   activation weakened by the answer's penalty, no memory of a space that did not answer, and
 *   the penalty is DESIGN §3's for the spaces that did not. (Spreading is monotone: fewer pulses
 *   — a missing space, a copy that lags with the batch not yet applied — never give more.)
 *   A full `any` answer that is less than the union graph's is counted stale, as reads are.
 */
import type { Consistency } from '../../src/query/types.js';
import { prng } from '../../src/util/prng.js';
import { GRAPH_DIM, randomCase, storeBatch, unionSpread, type SpreadCase } from '../../test/helpers/spread-graphs.js';
import { errorName, type History, type Operation, type SpreadSeen } from './history.js';
import type { ChaosOptions } from './options.js';
import { waitSettled } from './settle.js';
import type { World } from './world.js';
import { pause } from './load.js';

/** The Spreads the readers ask, each with the union graph's answer. */
export interface SpreadOracle {
  spaces: string[];
  hops: number;
  decay: number;
  threshold: number;
  queries: { seeds: string[]; want: Map<string, number> }[];
}

/** Seed sets asked. */
const QUERIES = 6;

/** Creates and loads the graph spaces, and computes the union graph's answer to each Spread. */
export async function loadGraphs(world: World, o: ChaosOptions): Promise<SpreadOracle> {
  const c: SpreadCase = randomCase(o.seed, 'chaos-g', o.graphSpaces);
  for (const g of c.graphs) await world.client('n1').createSpace(g.space, { dimension: GRAPH_DIM, copies: o.replicationFactor });
  await waitSettled(world, c.spaces, o.settleDeadlineMs);
  for (const g of c.graphs) await world.client('n1').store(g.space, storeBatch(g, 'all'), { deadlineMs: 30_000 });
  const rnd = prng(o.seed ^ 0x9e3779b9);
  const queries: SpreadOracle['queries'] = [];
  for (let q = 0; q < QUERIES; q++) {
    const seeds = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => {
      const g = c.graphs[Math.floor(rnd() * c.graphs.length)]!;
      return `${g.space}/${g.memories[Math.floor(rnd() * g.memories.length)]}`;
    });
    queries.push({ seeds, want: await unionSpread({ ...c, seeds }) });
  }
  return { spaces: c.spaces, hops: c.hops, decay: c.decay, threshold: c.threshold, queries };
}

/** One spread reader: until `stopped()`, a random Spread through a random running node, into the history. */
export async function spreadReader(world: World, history: History, oracle: SpreadOracle, o: ChaosOptions, r: number, stopped: () => boolean): Promise<void> {
  const rand = prng(o.seed * 1000 + 900 + r);
  while (!stopped()) {
    const up = world.upIds();
    const via = up[Math.floor(rand() * up.length)];
    if (via === undefined) {
      await pause(o.readPauseMs);
      continue;
    }
    const k = Math.floor(rand() * oracle.queries.length);
    const consistency: Consistency = rand() < o.leaderReadShare ? 'leader' : 'any';
    const inv = history.invoke({ f: 'spread', process: `s${r}`, node: via, space: oracle.spaces.join(','), ids: [String(k)], mode: consistency });
    try {
      const res = await world.client(via).query(
        { kind: 'spread', spaces: oracle.spaces, seeds: oracle.queries[k]!.seeds, hops: oracle.hops, decay: oracle.decay, threshold: oracle.threshold },
        { timeoutMs: 3 * o.readTimeoutMs, consistency },
        { deadlineMs: 3 * o.readTimeoutMs + 2_000 },
      );
      const c = res.coverage;
      const spread: SpreadSeen = {
        full: c.full, penalty: c.penalty, partitioned: c.partitioned, expected: c.expected,
        answered: c.partitions.filter((p) => p.status === 'ok').map((p) => p.partition),
        rows: res.activations.map((a) => [`${a.space}/${a.id}`, a.activation]),
      };
      history.complete(inv, 'ok', { spread });
    } catch (err) {
      history.complete(inv, 'fail', { error: errorName(err) });
    }
    await pause(o.readPauseMs);
  }
}

export const SPREAD_CHECKS = ['spread across spaces equals the union graph', 'spread across spaces never more than the union graph'] as const;

export interface SpreadStats { invoked: number; ok: number; fail: number; full: number; partial: number; leaderFull: number; staleAny: number }

/** Judges every spread completion against the oracle; `add` records a violation. */
export function checkSpreads(ops: Operation[], oracle: SpreadOracle | undefined, add: (check: (typeof SPREAD_CHECKS)[number], detail: string, op: Operation) => void): SpreadStats {
  const spreads = ops.filter((o) => o.invoke.f === 'spread');
  const stats: SpreadStats = { invoked: spreads.length, ok: 0, fail: 0, full: 0, partial: 0, leaderFull: 0, staleAny: 0 };
  for (const s of spreads) {
    const seen = s.done.spread;
    if (s.done.type !== 'ok' || !seen || !oracle) {
      stats.fail++;
      continue;
    }
    stats.ok++;
    const want = oracle.queries[Number(s.invoke.ids[0])]!.want;
    const got = new Map(seen.rows);
    const label = `spread op ${s.invoke.op} (query ${s.invoke.ids[0]}, ${s.invoke.mode}, via ${s.invoke.node})`;
    const missing = seen.expected - seen.answered.length;
    const penalty = missing === 0 ? 0 : Math.fround(Math.min(missing / seen.expected + (seen.partitioned ? 0.1 : 0), 0.5));
    if (Math.abs(seen.penalty - penalty) > 1e-6) add('spread across spaces never more than the union graph', `${label}: penalty ${seen.penalty} for ${missing} of ${seen.expected} spaces missing (want ${penalty})`, s);
    const answered = new Set(seen.answered);
    for (const [key, a] of got) {
      const w = want.get(key);
      if (!answered.has(key.slice(0, key.indexOf('/')))) add('spread across spaces never more than the union graph', `${label}: ${key} is from a space that did not answer`, s);
      else if (w === undefined) add('spread across spaces never more than the union graph', `${label}: ${key} (${a}) is not reached over the union graph`, s);
      else if (a > Math.fround(w * (1 - seen.penalty)) + 1e-6) add('spread across spaces never more than the union graph', `${label}: ${key} is ${a}, above the union graph's ${w} × (1 − ${seen.penalty})`, s);
    }
    if (!seen.full) {
      stats.partial++;
      continue;
    }
    stats.full++;
    const equal = got.size === want.size && [...want].every(([k, w]) => got.has(k) && Math.abs(got.get(k)! - w) <= 1e-6);
    if (s.invoke.mode === 'leader') {
      stats.leaderFull++;
      if (!equal) {
        const lost = [...want.keys()].filter((k) => !got.has(k));
        add('spread across spaces equals the union graph', `${label}: a full answer differs from the union graph's (${got.size} memories, want ${want.size}; missing ${lost.slice(0, 3).join(' ')})`, s);
      }
    } else if (!equal) stats.staleAny++;
  }
  return stats;
}

export function spreadReaders(world: World, history: History, oracle: SpreadOracle, o: ChaosOptions, stopped: () => boolean): Promise<void>[] {
  return Array.from({ length: o.spreadReaders }, (_, r) => spreadReader(world, history, oracle, o, r, stopped));
}

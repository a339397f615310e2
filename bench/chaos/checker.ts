/**
 * The history checker: a pure function of the history and the copies read after the heal.
 * Each write is one store batch, one Raft entry; so on every copy a write is either wholly there
 * or wholly absent, and:
 *
 * - an `ok` write (and an `ack: all` write that timed out: committed) is on every copy;
 * - a `fail` write is on no copy; an `unknown` write may be, at most once;
 * - nothing is on a copy that no write sent; no id is on a copy twice;
 * - all copies of a space hold the same ids and report the same digest;
 * - a `consistency: 'leader'` read never misses a write acknowledged before the read began.
 *
 * A `consistency: 'any'` read may lag; its misses are counted (stale reads), not violations.
 */
import type { CopyRead } from './copies.js';
import type { HistoryEvent, Operation } from './history.js';
import type { FaultWindow } from './world.js';
import { checkSpreads, SPREAD_CHECKS, type SpreadOracle, type SpreadStats } from './spreads.js';

export interface Violation {
  check: string;
  detail: string;
  /** The operations involved, as recorded (invoke and completion). */
  history: HistoryEvent[];
}

export interface WindowStats {
  kind: string;
  node: string;
  /** ms since the run started. */
  start: number;
  end: number;
  writes: { invoked: number; ok: number; fail: number; unknown: number };
  reads: { invoked: number; ok: number; fail: number };
  /** Longest stretch per space in which no write invoked then succeeded, ms. */
  writeUnavailableMs: Record<string, number>;
}

export interface CheckReport {
  writes: { invoked: number; ok: number; fail: number; unknown: number; committedNotAppliedEverywhere: number };
  /** What became of the `unknown` writes after the heal. */
  unknownWrites: { present: number; absent: number };
  reads: { invoked: number; ok: number; fail: number; leader: number; any: number; staleAny: number };
  copies: { spaces: number; copies: number; ids: number; unreadable: string[] };
  /** Spreads over several spaces (spreads.ts). */
  spreads: SpreadStats;
  windows: WindowStats[];
  violations: Violation[];
  /** Violation count per check (every check listed, 0 when it held). */
  checks: Record<string, number>;
}

export const CHECKS = [
  'ok write on every copy',
  'failed write on no copy',
  'write wholly present or absent',
  'nothing present that was never written',
  'no id twice on a copy',
  'copies of a space identical',
  'copy readable whole',
  'leader read sees every earlier acknowledged write',
  ...SPREAD_CHECKS,
] as const;

/** Longest gap in which every write to the space failed or was unknown: from the first such invoke to the next ok's invoke. */
function unavailableMs(writes: Operation[], from: number, to: number): number {
  let worst = 0;
  let since: number | undefined;
  for (const w of writes) {
    if (w.invoke.time < from || w.invoke.time > to) continue;
    if (w.done.type === 'ok') {
      if (since !== undefined) worst = Math.max(worst, w.invoke.time - since);
      since = undefined;
    } else since ??= w.invoke.time;
  }
  if (since !== undefined) worst = Math.max(worst, to - since);
  return Math.round(worst);
}

export function check(ops: Operation[], copies: CopyRead[], windows: FaultWindow[], oracle?: SpreadOracle): CheckReport {
  const violations: Violation[] = [];
  const add = (c: (typeof CHECKS)[number], detail: string, history: HistoryEvent[] = []) => violations.push({ check: c, detail, history });
  const writes = ops.filter((o) => o.invoke.f === 'write');
  const reads = ops.filter((o) => o.invoke.f === 'read');
  // Which write sent each id (each id is sent by exactly one write).
  const writerOf = new Map<string, Operation>();
  for (const w of writes) for (const id of w.invoke.ids) writerOf.set(`${w.invoke.space}/${id}`, w);

  const bySpace = new Map<string, CopyRead[]>();
  for (const c of copies) {
    let l = bySpace.get(c.space);
    if (!l) bySpace.set(c.space, (l = []));
    l.push(c);
    if (c.problems.length) add('copy readable whole', `${c.space}@${c.node}: ${c.problems.slice(0, 3).join('; ')}`);
    const seen = new Set<string>();
    for (const id of c.ids) {
      if (seen.has(id)) add('no id twice on a copy', `${c.space}/${id} twice on ${c.node}`, evs(writerOf.get(`${c.space}/${id}`)));
      seen.add(id);
      if (!writerOf.has(`${c.space}/${id}`)) add('nothing present that was never written', `${c.space}/${id} on ${c.node}, sent by no write to ${c.space}`);
    }
  }
  const sets = new Map(copies.map((c) => [`${c.space}@${c.node}`, new Set(c.ids)]));
  for (const [space, list] of bySpace) {
    const a = list[0]!;
    for (const b of list.slice(1)) {
      const sa = sets.get(`${space}@${a.node}`)!;
      const sb = sets.get(`${space}@${b.node}`)!;
      const onlyA = [...sa].filter((x) => !sb.has(x));
      const onlyB = [...sb].filter((x) => !sa.has(x));
      if (a.digest !== b.digest || onlyA.length || onlyB.length) {
        add('copies of a space identical', `${space}: ${a.node} vs ${b.node}: digests ${a.digest.slice(0, 8)}/${b.digest.slice(0, 8)}, ${onlyA.length} ids only on ${a.node} (${onlyA.slice(0, 3).join(' ')}), ${onlyB.length} only on ${b.node} (${onlyB.slice(0, 3).join(' ')})`);
      }
    }
  }

  let unknownPresent = 0;
  let unknownAbsent = 0;
  for (const w of writes) {
    const holders = bySpace.get(w.invoke.space) ?? [];
    for (const c of holders) {
      const s = sets.get(`${c.space}@${c.node}`)!;
      const here = w.invoke.ids.filter((id) => s.has(id)).length;
      if (here > 0 && here < w.invoke.ids.length) add('write wholly present or absent', `op ${w.invoke.op}: ${here} of ${w.invoke.ids.length} ids on ${c.node}`, evs(w));
      if (w.done.type === 'ok' && here < w.invoke.ids.length) add('ok write on every copy', `op ${w.invoke.op} (${w.done.error ?? 'ok'}): ${w.invoke.ids.length - here} ids missing on ${c.node}`, evs(w));
      if (w.done.type === 'fail' && here > 0) add('failed write on no copy', `op ${w.invoke.op} (${w.done.error}): on ${c.node}`, evs(w));
    }
    if (w.done.type === 'unknown') {
      const first = holders[0] && sets.get(`${holders[0].space}@${holders[0].node}`)!;
      if (first && w.invoke.ids.some((id) => first.has(id))) unknownPresent++;
      else unknownAbsent++;
    }
  }

  let staleAny = 0;
  for (const r of reads) {
    if (r.done.type !== 'ok') continue;
    const id = r.invoke.ids[0]!;
    for (const f of r.done.found ?? []) {
      const w = writerOf.get(`${r.invoke.space}/${f}`);
      if (!w) add('nothing present that was never written', `read op ${r.invoke.op} found ${r.invoke.space}/${f}, sent by no write`, evs(r));
      else if (w.done.type === 'fail') add('failed write on no copy', `read op ${r.invoke.op} found ${f} of failed write op ${w.invoke.op}`, [...evs(w), ...evs(r)]);
    }
    const w = writerOf.get(`${r.invoke.space}/${id}`);
    const ackedBefore = w && w.done.type === 'ok' && w.done.time < r.invoke.time;
    if (!ackedBefore || r.done.found?.includes(id)) continue;
    if (r.invoke.mode === 'leader') add('leader read sees every earlier acknowledged write', `read op ${r.invoke.op} via ${r.invoke.node} (answered by ${r.done.answeredBy}) missed ${id}, acknowledged ${Math.round(r.invoke.time - w.done.time)} ms before`, [...evs(w), ...evs(r)]);
    else staleAny++;
  }

  const spreads = checkSpreads(ops, oracle, (c, detail, op) => add(c, detail, evs(op)));

  const count = (xs: Operation[], t: string) => xs.filter((o) => o.done.type === t).length;
  const spaces = [...new Set(writes.map((w) => w.invoke.space))].sort();
  const windowStats: WindowStats[] = windows.map((win) => {
    const inside = (o: Operation) => o.invoke.time >= win.start && o.invoke.time <= win.end;
    const ws = writes.filter(inside);
    const rs = reads.filter(inside);
    return {
      kind: win.kind, node: win.node, start: Math.round(win.start), end: Math.round(win.end),
      writes: { invoked: ws.length, ok: count(ws, 'ok'), fail: count(ws, 'fail'), unknown: count(ws, 'unknown') },
      reads: { invoked: rs.length, ok: count(rs, 'ok'), fail: count(rs, 'fail') },
      writeUnavailableMs: Object.fromEntries(spaces.map((s) => [s, unavailableMs(writes.filter((w) => w.invoke.space === s), win.start, win.end)])),
    };
  });

  const checks = Object.fromEntries(CHECKS.map((c) => [c, violations.filter((v) => v.check === c).length]));
  return {
    writes: {
      invoked: writes.length, ok: count(writes, 'ok'), fail: count(writes, 'fail'), unknown: count(writes, 'unknown'),
      committedNotAppliedEverywhere: writes.filter((w) => w.done.type === 'ok' && w.done.error).length,
    },
    unknownWrites: { present: unknownPresent, absent: unknownAbsent },
    reads: {
      invoked: reads.length, ok: count(reads, 'ok'), fail: count(reads, 'fail'),
      leader: reads.filter((r) => r.invoke.mode === 'leader').length, any: reads.filter((r) => r.invoke.mode === 'any').length, staleAny,
    },
    spreads,
    copies: { spaces: bySpace.size, copies: copies.length, ids: [...bySpace.values()].reduce((n, l) => n + new Set(l.flatMap((c) => c.ids)).size, 0), unreadable: copies.filter((c) => c.problems.length).map((c) => `${c.space}@${c.node}`) },
    windows: windowStats,
    violations,
    checks,
  };
}

function evs(o: Operation | undefined): HistoryEvent[] {
  return o ? [o.invoke, o.done] : [];
}

/**
 * A Spread over several spaces (DESIGN §10): rounds of scatter and gather, one per hop.
 *
 * The engine's Spread sums the pulses a memory receives in one hop, clamps the sum to 1 and
 * compares it with the threshold; pulses through cross-space edges take part in that sum, so
 * the spaces meet after every hop (src/engine/spread-round.ts). Round 0 asks the spaces holding
 * seeds; round h asks every space with a frontier, or with an arriving pulse that could clear
 * the threshold on its own. Each answers what it reached (its next frontier) and the pulses
 * leaving it; the coordinator sums the pulses per target space with the native sum merge
 * (`mergePulses`, f64) and sends them with the next round. Each space's activation is the
 * same merge over its rounds: the sum of what each hop added, clamped to 1, in hop order — the
 * engine's own order of additions. So the answer equals the engine's Spread over the union of
 * the spaces' graphs to floating-point summation order within a hop, whatever copy answers
 * which round (nothing stays on a copy between rounds).
 *
 * Rounds stop when nothing is left to propagate, after `hops`, or at the deadline: each round
 * gets an equal share of the time left, so a partition that hangs in one round leaves time for
 * the others' later rounds. A partition that does not answer a round is missing from the
 * answer (its activations are dropped, pulses toward it are not sent, the coverage penalty of
 * DESIGN §3 applies); what it sent in earlier rounds has already moved on and stays.
 */
import * as gather from '../gather/gather-engine.js';
import type { PulseMerged, PulsePart } from '../gather/gather-types.js';
import { checkMemoryId, checkSpaceId, compareIds } from '../engine/ids.js';
import { DEFAULT_SPREAD_DECAY, DEFAULT_SPREAD_HOPS, DEFAULT_SPREAD_THRESHOLD, MAX_SPREAD_HOPS, MAX_SPREAD_SEEDS } from '../engine/limits.js';
import { intParam, numberParam } from '../engine/params.js';
import { AbortError, AllPartitionsFailedError, InvalidArgumentError, QueryDeadlineExceededError } from '../errors.js';
import { f64Column, NO_PULSES, rowCount, stringAt, u32Column, encodeStrings, type PulseColumns } from '../wire/columns.js';
import type { QueryContext } from './context.js';
import type { CopyRole } from './coverage.js';
import { checkCoverage } from './gather-answers.js';
import type { PartitionOutcome } from './outcome.js';
import type { PlannedPartition, QueryPlan } from './planner.js';
import type { Activation, QueryResult } from './result.js';
import type { ScatterExecutor } from './scatter.js';
import type { Context } from './tracing.js';
import type { CrossSpreadQuery, QueryOptions, SpreadRoundQuery } from './types.js';

/** What one Spread over several spaces cost (the node reports it as metrics). */
export interface CrossSpreadStats {
  rounds: number;
  /** Pulse payload sent to partitions (frontiers, arriving pulses, seeds), bytes. */
  bytesSent: number;
  /** Pulse payload partitions answered (reached memories, leaving pulses), bytes. */
  bytesReceived: number;
  /** Time in the sum merges, ms. */
  mergeMs: number;
}

/** One partition across the rounds. */
interface Track {
  p: PlannedPartition;
  seeds: string[];
  /** Memories it reached in the last round, with their pulse: sent back in the next. */
  frontier: PulseColumns;
  /** Pulses for its next round, summed over the sending spaces, and the largest of them. */
  incoming: PulseColumns;
  incomingMax: number;
  /** Its activations so far: what each round added, summed and clamped. */
  activation: PulseColumns;
  rounds: number;
  latencyMs: number;
  hedged: boolean;
  answeredBy?: Pick<PartitionOutcome, 'node' | 'role' | 'raftRole' | 'behind'>;
  /** Set once it missed a round: the outcome of that round. */
  failed?: PartitionOutcome;
}

interface Params { hops: number; decay: number; threshold: number }

function params(q: CrossSpreadQuery): Params {
  return {
    hops: intParam('hops', q.hops, DEFAULT_SPREAD_HOPS, 0, MAX_SPREAD_HOPS),
    decay: numberParam('decay', q.decay, DEFAULT_SPREAD_DECAY, 0, 1),
    threshold: numberParam('threshold', q.threshold, DEFAULT_SPREAD_THRESHOLD, 0, 1),
  };
}

/** `SPACE/ID` seeds, grouped by the plan index of their space. */
function seedsBySpace(q: CrossSpreadQuery, plan: QueryPlan): Map<number, string[]> {
  const seeds = q.seeds;
  if (!Array.isArray(seeds)) throw new InvalidArgumentError('seeds', seeds, 'must be an array of SPACE/ID');
  if (seeds.length > MAX_SPREAD_SEEDS) throw new InvalidArgumentError('seeds', `${seeds.length} seeds`, `at most ${MAX_SPREAD_SEEDS}`);
  const index = new Map(plan.partitions.map((p) => [p.partition, p.index]));
  const out = new Map<number, string[]>();
  seeds.forEach((s, i) => {
    const field = `seeds[${i}]`;
    const cut = typeof s === 'string' ? s.indexOf('/') : -1;
    if (cut < 0) throw new InvalidArgumentError(field, s, 'must be SPACE/ID in a Spread over several spaces');
    const space = checkSpaceId(s.slice(0, cut), field);
    const id = checkMemoryId(s.slice(cut + 1), field);
    const at = index.get(space);
    if (at === undefined) throw new InvalidArgumentError(field, s, `names space "${space}", which is not one of the Spread's spaces`);
    let list = out.get(at);
    if (!list) out.set(at, (list = []));
    list.push(id);
  });
  return out;
}

const bytesOf = (c: PulseColumns) => c.ids.byteLength + c.idOffsets.byteLength + c.values.byteLength;
const asPart = (index: number, c: PulseColumns): PulsePart => ({ index, ids: c.ids, offsets: c.idOffsets, values: c.values });

function maxOf(values: Uint8Array): number {
  const v = f64Column(values);
  let m = 0;
  for (let i = 0; i < v.length; i++) if (v[i]! > m) m = v[i]!;
  return m;
}

export interface CrossSpreadRun {
  scatterer: ScatterExecutor;
  /** Told each round's outcome per partition (the node's partition metrics). */
  onPartition?: (o: PartitionOutcome) => void;
  /** Filled as the rounds go, also when the Spread fails. */
  stats?: CrossSpreadStats;
  plan: QueryPlan;
  query: CrossSpreadQuery;
  options: QueryOptions;
  context: QueryContext;
  trace?: Context;
}

/** Runs the rounds and gathers the answer; `run.stats` says what it cost. */
export async function crossSpread(run: CrossSpreadRun): Promise<QueryResult> {
  const { scatterer, plan, query, options, context } = run;
  const { hops, decay, threshold } = params(query);
  const seeds = seedsBySpace(query, plan);
  const tracks: Track[] = plan.partitions.map((p) => ({
    p, seeds: seeds.get(p.index) ?? [], frontier: NO_PULSES, incoming: NO_PULSES, incomingMax: 0, activation: NO_PULSES,
    rounds: 0, latencyMs: 0, hedged: false,
  }));
  const stats: CrossSpreadStats = run.stats ?? { rounds: 0, bytesSent: 0, bytesReceived: 0, mergeMs: 0 };
  const merge = (parts: PulsePart[]) => {
    const started = performance.now();
    const out = gather.mergePulses(parts);
    stats.mergeMs += performance.now() - started;
    return out;
  };

  for (let hop = 0; hop <= hops; hop++) {
    const active = tracks.filter((t) => !t.failed && (hop === 0
      ? t.seeds.length > 0
      // Arriving pulses alone reach nothing below the threshold: such a space has no round.
      : rowCount(t.frontier.idOffsets) > 0 || (t.incomingMax >= threshold && t.incomingMax > 0)));
    if (active.length === 0) break;
    if (context.signal.aborted) throw new AbortError('the caller cancelled the query', { cause: context.signal.reason });
    // Over every space, no list: any target is in the Spread (the merge still drops a missing one).
    const spaces = query.spaces === 'all' ? [] : tracks.filter((t) => !t.failed).map((t) => t.p.partition);
    const requests = new Map<number, SpreadRoundQuery>();
    for (const t of active) {
      const q: SpreadRoundQuery = {
        kind: 'spread-round', space: t.p.partition, hop, decay, threshold, emit: hop < hops, spaces,
        frontier: hop === 0 ? seedColumns(t.seeds) : t.frontier,
        incoming: hop === 0 ? NO_PULSES : t.incoming,
      };
      stats.bytesSent += bytesOf(q.frontier) + bytesOf(q.incoming);
      requests.set(t.p.index, q);
    }
    // An equal share of the time left per round still to come: a partition that hangs in this
    // round leaves the others time for theirs.
    const deadline = context.deadline.within(context.deadline.remainingMs() / (hops - hop + 1));
    const outcomes = await scatterer.scatter({ ...plan, partitions: active.map((t) => t.p) }, {
      query,
      partitionQuery: (p) => requests.get(p.index)!,
      context: { deadline, signal: context.signal },
      ...(options.consistency ? { consistency: options.consistency } : {}),
      ...(options.preference === 'local' ? { hedge: false } : {}),
      ...(run.trace ? { trace: run.trace } : {}),
      // The spaces of a round that one node holds go to it as one call.
      batch: true,
    });
    stats.rounds++;
    if (context.signal.aborted) throw new AbortError('the caller cancelled the query', { cause: context.signal.reason });
    const answered: { t: Track; reached: PulseColumns; leaving: { space: string; pulses: PulseColumns }[] }[] = [];
    for (const o of outcomes) {
      if (o.fatal) throw o.fatal;
      run.onPartition?.(o);
      const t = tracks[o.index]!;
      t.latencyMs += o.latencyMs;
      if (o.hedged) t.hedged = true;
      if (o.status !== 'ok' || o.answer?.kind !== 'spread-round') {
        t.failed = o.status === 'ok' ? { ...o, status: 'error', reason: `malformed answer: a ${o.answer?.kind} result to a Spread round` } : o;
        delete t.failed.answer;
        continue;
      }
      const { reached, leaving } = o.answer.round;
      // One part per target space: a space named twice would reach the merge twice.
      const named = new Set(leaving.map((l) => l.space));
      if (named.size !== leaving.length) {
        t.failed = { ...o, status: 'error', reason: 'malformed answer: its leaving pulses name a space twice' };
        delete t.failed.answer;
        continue;
      }
      t.rounds++;
      t.answeredBy = { node: o.node, role: o.role, ...(o.raftRole ? { raftRole: o.raftRole, behind: o.behind ?? 0 } : {}) };
      stats.bytesReceived += bytesOf(reached) + leaving.reduce((n, l) => n + bytesOf(l.pulses) + l.space.length, 0);
      answered.push({ t, reached, leaving });
    }
    // What each round added to a space's activations: the merge sums in index order, so the
    // earlier rounds come first, as in the engine.
    for (const a of answered) {
      const m = merge([asPart(0, a.t.activation), asPart(1, a.reached)]);
      if (m.rejected.length > 0) {
        fail(a.t, `malformed answer: ${m.rejected[0]!.code}: ${m.rejected[0]!.message}`);
        continue;
      }
      a.t.activation = { ids: m.ids, idOffsets: m.offsets, values: m.values };
      a.t.frontier = a.reached;
    }
    for (const t of tracks) {
      t.incoming = NO_PULSES;
      t.incomingMax = 0;
      if (!answered.some((a) => a.t === t)) t.frontier = NO_PULSES;
    }
    if (hop < hops) sumLeaving(tracks, answered, merge);
  }

  return finish(tracks, options, plan, context, stats.rounds);
}

function seedColumns(ids: string[]): PulseColumns {
  const col = encodeStrings(ids);
  return { ids: col.blob, idOffsets: col.offsets, values: new Uint8Array(8 * ids.length) };
}

function fail(t: Track, reason: string): void {
  const by = t.answeredBy ?? { node: t.p.copies[0]?.node ?? t.p.primary, role: 'primary' as CopyRole };
  t.failed = { index: t.p.index, partition: t.p.partition, node: by.node, role: by.role, status: 'error', reason, latencyMs: 0 };
  t.frontier = NO_PULSES;
}

/**
 * Sums the pulses leaving the answering spaces per target space (the native merge), for the
 * next round. A space whose pulses the merge refuses is failed, and the sums are made again
 * without it, so nothing it sent is counted.
 */
function sumLeaving(tracks: Track[], answered: { t: Track; leaving: { space: string; pulses: PulseColumns }[] }[], merge: (parts: PulsePart[]) => PulseMerged): void {
  const byName = new Map(tracks.map((t) => [t.p.partition, t]));
  for (;;) {
    const toward = new Map<Track, PulsePart[]>();
    for (const a of answered) {
      if (a.t.failed) continue;
      for (const l of a.leaving) {
        const target = byName.get(l.space);
        // Toward a space outside the Spread, itself, or one already missing: not sent.
        if (!target || target === a.t || target.failed) continue;
        let parts = toward.get(target);
        if (!parts) toward.set(target, (parts = []));
        parts.push(asPart(a.t.p.index, l.pulses));
      }
    }
    let refused = false;
    for (const [target, parts] of toward) {
      const m = merge(parts);
      for (const r of m.rejected) {
        fail(tracks[r.partition]!, `malformed answer: ${r.code}: ${r.message}`);
        refused = true;
      }
      target.incoming = { ids: m.ids, idOffsets: m.offsets, values: m.values };
      target.incomingMax = maxOf(m.values);
    }
    if (!refused) return;
    for (const t of tracks) {
      t.incoming = NO_PULSES;
      t.incomingMax = 0;
    }
  }
}

/** The answer: every answering space's activations, penalised, by activation desc, space, id. */
function finish(tracks: Track[], options: QueryOptions, plan: QueryPlan, context: QueryContext, rounds: number): QueryResult {
  const outcomes: PartitionOutcome[] = tracks.map((t) => {
    if (t.failed) return { ...t.failed, latencyMs: t.latencyMs, rounds: t.rounds, ...(t.hedged ? { hedged: true } : {}) };
    const by = t.answeredBy;
    return {
      index: t.p.index, partition: t.p.partition, node: by?.node ?? '', role: by?.role ?? 'primary', status: 'ok', reason: '',
      latencyMs: t.latencyMs, rounds: t.rounds,
      ...(by?.raftRole ? { raftRole: by.raftRole, behind: by.behind ?? 0 } : {}),
      ...(t.hedged ? { hedged: true } : {}),
    };
  });
  const coverage = { ...checkCoverage(outcomes, options, plan.partitioned, context.deadline.budgetMs), rounds };
  // A partition no pulse reached counts as answering; but when every partition that was asked
  // failed, nothing answered at all: the typed error, never an empty success (DESIGN §3).
  const asked = tracks.filter((t) => t.failed || t.rounds > 0);
  if (asked.length > 0 && asked.every((t) => t.failed)) {
    if (asked.every((t) => t.failed!.status === 'timeout')) throw new QueryDeadlineExceededError(coverage, context.deadline.budgetMs);
    throw new AllPartitionsFailedError(coverage);
  }
  const rows: { space: string; id: string }[] = [];
  const values: number[] = [];
  for (const t of tracks) {
    if (t.failed) continue;
    const n = rowCount(t.activation.idOffsets);
    const offsets = u32Column(t.activation.idOffsets);
    const v = f64Column(t.activation.values);
    for (let i = 0; i < n; i++) {
      rows.push({ space: t.p.partition, id: stringAt(t.activation.ids, offsets, i) });
      values.push(v[i]!);
    }
  }
  const activation = Float32Array.from(values);
  gather.applyPenalty(activation, coverage.penalty);
  const order = rows.map((_, i) => i).sort((a, b) =>
    activation[b]! - activation[a]! || compareIds(rows[a]!.space, rows[b]!.space) || compareIds(rows[a]!.id, rows[b]!.id));
  const activations: Activation[] = order.map((i) => ({ id: rows[i]!.id, activation: activation[i]!, space: rows[i]!.space }));
  return { kind: 'spread', activations, coverage };
}

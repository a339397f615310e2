/**
 * What bench/naive-coordinator.ts times: one series per (query kind, partitions, coordinator),
 * each able to send query number i from any of the benchmark's clients, and the check that every
 * coordinator gives the same answer before anything is timed.
 */
import type { EngramClient } from '../../src/client/engram-client.js';
import type { Query } from '../../src/query/types.js';
import type { QueryResult } from '../../src/query/result.js';
import type { AggregatedResult, NaiveCoordinator, NaiveQuery } from './coordinator.js';

export type Kind = 'recall' | 'spread' | 'imagine';
/** `naive`: new channel per call; `naive-pooled`: the card's ConnectionPool; `ours`: EngramClient → a node. */
export type CoordinatorName = 'naive' | 'naive-pooled' | 'ours';

export interface Config { kind: Kind; partitions: number }

export interface Workload {
  spaces: string[];
  cues: Float32Array[];
  /** Spread seeds, one memory id each. */
  seeds: string[];
  recallLimit: number;
  imagineLimit: number;
}

export interface Series extends Config {
  coordinator: CoordinatorName;
  /** Sends query number `i` as client `client` and checks the answer is whole; resolves with nothing. */
  send(client: number, i: number): Promise<void>;
  /** Channels the coordinator made so far (ours: its clients' channels, made before the run). */
  channels(): number;
}

export function oursQuery(w: Workload, c: Config, i: number): Query {
  const cue = { embedding: w.cues[i % w.cues.length]! };
  if (c.kind === 'recall') return { kind: 'recall', space: w.spaces[0]!, cue, limit: w.recallLimit };
  if (c.kind === 'spread') return { kind: 'spread', space: w.spaces[0]!, seeds: [w.seeds[i % w.seeds.length]!] };
  return { kind: 'imagine', spaces: w.spaces.slice(0, c.partitions), cue, limit: w.imagineLimit };
}

export function naiveQuery(w: Workload, c: Config, i: number): NaiveQuery {
  const cue = w.cues[i % w.cues.length]!;
  if (c.kind === 'recall') return { kind: 'recall', space: w.spaces[0]!, cue, limit: w.recallLimit };
  if (c.kind === 'spread') return { kind: 'spread', space: w.spaces[0]!, seeds: [w.seeds[i % w.seeds.length]!] };
  return { kind: 'imagine', spaces: w.spaces.slice(0, c.partitions), cue, limit: w.imagineLimit };
}

function checkWhole(r: QueryResult | AggregatedResult): void {
  if ('coverage' in r) {
    if (!r.coverage.full) throw new Error(`partial answer: ${JSON.stringify(r.coverage)}`);
  } else if (r.failedPartitions > 0) {
    throw new Error(`naive: ${r.failedPartitions} of ${r.totalPartitions} partitions failed`);
  }
}

export function oursSeries(c: Config, w: Workload, clients: readonly EngramClient[]): Series {
  return {
    ...c,
    coordinator: 'ours',
    send: async (client, i) => checkWhole(await clients[client]!.query(oursQuery(w, c, i))),
    channels: () => clients.length,
  };
}

export function naiveSeries(c: Config, w: Workload, coordinator: NaiveCoordinator, name: 'naive' | 'naive-pooled'): Series {
  return {
    ...c,
    coordinator: name,
    send: async (_client, i) => checkWhole(await coordinator.execute(naiveQuery(w, c, i))),
    channels: () => coordinator.channelsCreated,
  };
}

/** A comparable form of an answer: ids in answer order and their scores (spread: sorted by id). */
export function canonical(r: QueryResult | AggregatedResult): { ids: string[]; scores: number[] } {
  if ('coverage' in r) {
    if (r.kind === 'recall') return { ids: r.memories.map((m) => m.id), scores: r.memories.flatMap((m) => [m.confidence.lower, m.confidence.upper, m.similarity]) };
    if (r.kind === 'spread') {
      const rows = [...r.activations].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      return { ids: rows.map((a) => a.id), scores: rows.map((a) => a.activation) };
    }
    if (r.kind === 'imagine') return { ids: r.items.map((x) => x.id), scores: r.items.map((x) => x.confidence) };
    throw new Error(`unexpected ${r.kind}`);
  }
  const n = r.result;
  if (n.kind === 'recall') return { ids: n.memories.map((m) => m.id), scores: n.memories.flatMap((m) => [m.confidence.lower, m.confidence.upper, m.similarity]) };
  if (n.kind === 'spread') {
    const rows = [...n.activations].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { ids: rows.map((a) => a[0]), scores: rows.map((a) => a[1]) };
  }
  return { ids: n.items.map((x) => x.id), scores: n.items.map((x) => x.confidence) };
}

export interface CheckResult extends Config { samples: number; equal: number; meanRows: number; minRows: number; maxRows: number }

/**
 * Sends queries 0..samples-1 of `c` through ours and each naive coordinator; every answer must
 * list the same ids in the same order with the same scores (bit for bit: every coordinator reads
 * the same float32 values off the wire). Throws on the first difference.
 */
export async function checkSameAnswers(c: Config, w: Workload, ours: EngramClient, naives: readonly NaiveCoordinator[], samples: number): Promise<CheckResult> {
  const rows: number[] = [];
  for (let i = 0; i < samples; i++) {
    const want = await ours.query(oursQuery(w, c, i));
    checkWhole(want);
    const a = canonical(want);
    rows.push(a.ids.length);
    if (a.ids.length === 0) throw new Error(`${c.kind} x${c.partitions} query ${i}: empty answer`);
    for (const naive of naives) {
      const got = await naive.execute(naiveQuery(w, c, i));
      checkWhole(got);
      const b = canonical(got);
      const same = a.ids.length === b.ids.length && a.ids.every((id, k) => id === b.ids[k]) && a.scores.length === b.scores.length && a.scores.every((s, k) => s === b.scores[k]);
      if (!same) throw new Error(`${c.kind} x${c.partitions} query ${i}: naive answer differs from ours\n ours  ${a.ids.slice(0, 8).join(',')} …\n naive ${b.ids.slice(0, 8).join(',')} …`);
    }
  }
  return { ...c, samples, equal: samples, meanRows: Math.round(rows.reduce((x, y) => x + y, 0) / rows.length), minRows: Math.min(...rows), maxRows: Math.max(...rows) };
}

/**
 * Random memory graphs over several spaces, and the oracle of a Spread over several spaces: the
 * engine's own one-space Spread over the union of the spaces' graphs (DESIGN §10), every memory
 * renamed `SPACE/ID` into one space of a fresh engine on disk.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { rowCount, f32Column, stringAt, u32Column } from '../../src/wire/columns.js';
import type { Activation } from '../../src/query/result.js';
import { vec } from './node.js';
import { prng } from '../../src/util/prng.js';

/** The seeded PRNG of the generated graphs: a failing case is replayed from its seed. */
export { prng };

export const GRAPH_DIM = 4;

export interface Edge { from: string; to: string; toSpace?: string; weight: number }
export interface SpaceGraph { space: string; memories: string[]; associations: Edge[] }
export interface SpreadCase {
  graphs: SpaceGraph[];
  /** The Spread's spaces (a graph's edges may point outside them, or to memories that do not exist). */
  spaces: string[];
  seeds: string[];
  hops: number;
  decay: number;
  threshold: number;
}

/**
 * 2–6 spaces (named `prefix-sN`) of 1–20 memories; ids repeat across spaces on purpose (m0 is in
 * every space), so only the space tells them apart. A quarter of the edges cross spaces; some
 * point at memories that do not exist or at a space outside the Spread. Weights, decay and
 * threshold are f32 values, as the wire carries them.
 */
export function randomCase(seed: number, prefix: string, spaceCount?: number): SpreadCase {
  const rnd = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const n = spaceCount ?? int(2, 6);
  const spaces = Array.from({ length: n }, (_, i) => `${prefix}-s${i}`);
  const sizes = spaces.map(() => int(1, 20));
  const graphs: SpaceGraph[] = spaces.map((space, s) => {
    const size = sizes[s]!;
    const memories = Array.from({ length: size }, (_, j) => `m${j}`);
    const associations: Edge[] = [];
    const edges = int(0, size * 3);
    for (let e = 0; e < edges; e++) {
      const from = memories[int(0, size - 1)]!;
      const weight = Math.fround(0.05 + 0.95 * rnd());
      const roll = rnd();
      if (roll < 0.25 && n > 1) {
        let t = int(0, n - 2);
        if (t >= s) t++;
        // One in ten past the target's last memory: an edge to a memory not stored.
        associations.push({ from, toSpace: spaces[t]!, to: `m${int(0, Math.ceil(sizes[t]! * 1.1))}`, weight });
      } else if (roll < 0.28) {
        associations.push({ from, toSpace: `${prefix}-outside`, to: 'm0', weight });
      } else {
        associations.push({ from, to: `m${int(0, Math.ceil(size * 1.1))}`, weight });
      }
    }
    return { space, memories, associations };
  });
  const seeds = Array.from({ length: int(1, 4) }, () => {
    const s = int(0, n - 1);
    return `${spaces[s]}/m${int(0, sizes[s]!)}`;
  });
  return {
    graphs,
    spaces,
    seeds,
    hops: int(1, 5),
    decay: Math.fround(rnd() * 0.5),
    threshold: rnd() < 0.15 ? 0 : Math.fround(rnd() * 0.15),
  };
}

/** The batch to store in `g.space`. */
export function storeBatch(g: SpaceGraph, ack: 'quorum' | 'all' = 'all') {
  return {
    memories: g.memories.map((id, i) => ({ id, embedding: vec(GRAPH_DIM, i + 1), content: `${g.space} ${id}` })),
    associations: g.associations.map((a) => ({ ...a })),
    ack,
  };
}

/**
 * The oracle: a fresh engine holding the union graph in one space, asked the one-space Spread.
 * `without` leaves spaces out of the union (a space whose only copy is down). Keys are SPACE/ID.
 */
export async function unionSpread(c: SpreadCase, without: readonly string[] = []): Promise<Map<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'engram-union-'));
  const engine = await Engine.open(dir);
  try {
    const inUnion = new Set(c.spaces.filter((s) => !without.includes(s)));
    await engine.createSpace('union', GRAPH_DIM);
    const graphs = c.graphs.filter((g) => inUnion.has(g.space));
    await engine.store('union', {
      memories: graphs.flatMap((g) => g.memories.map((id, i) => ({ id: `${g.space}/${id}`, embedding: vec(GRAPH_DIM, i + 1) }))),
      associations: graphs.flatMap((g) => g.associations
        .filter((a) => inUnion.has(a.toSpace ?? g.space))
        .map((a) => ({ from: `${g.space}/${a.from}`, to: `${a.toSpace ?? g.space}/${a.to}`, weight: a.weight }))),
    });
    const cols = engine.spread('union', { seeds: c.seeds.filter((s) => inUnion.has(s.slice(0, s.indexOf('/')))), hops: c.hops, decay: c.decay, threshold: c.threshold });
    const offsets = u32Column(cols.idOffsets);
    const values = f32Column(cols.activation);
    const out = new Map<string, number>();
    for (let i = 0; i < rowCount(cols.idOffsets); i++) out.set(stringAt(cols.ids, offsets, i), values[i]!);
    return out;
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A distributed answer's activations keyed SPACE/ID (each must name its space, once). */
export function byKey(activations: readonly Activation[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const a of activations) {
    assert.ok(a.space, `activation of ${a.id} names no space`);
    const key = `${a.space}/${a.id}`;
    assert.ok(!out.has(key), `${key} appears twice`);
    out.set(key, a.activation);
  }
  return out;
}

/** Same memories, each activation within `tolerance` (after scaling the oracle by `scale`). */
export function assertSameActivations(got: Map<string, number>, want: Map<string, number>, context: string, scale = 1, tolerance = 1e-6): void {
  const missing = [...want.keys()].filter((k) => !got.has(k));
  const extra = [...got.keys()].filter((k) => !want.has(k));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${context}: reached memories differ`);
  for (const [k, v] of want) {
    const g = got.get(k)!;
    assert.ok(Math.abs(g - Math.fround(v * scale)) <= tolerance, `${context}: ${k} is ${g}, the union graph gives ${v}${scale !== 1 ? ` × ${scale}` : ''}`);
  }
}

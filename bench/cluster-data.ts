/**
 * Seeded data for the benchmarks that run on a LocalCluster: spaces pinned to chosen primaries
 * (no replicas), filled with random memories, and a wait until a coordinator sees them all.
 */
import type { LocalCluster } from '../src/cluster/local-cluster.js';
import type { EngramClient } from '../src/client/engram-client.js';
import type { MemoryInput } from '../src/engine/store-batch.js';
import { prng } from '../src/util/prng.js';

export function randomVector(random: () => number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) v[i] = random() * 2 - 1;
  return v;
}

export function memories(seed: number, count: number, dim: number): MemoryInput[] {
  const random = prng(seed);
  return Array.from({ length: count }, (_, i) => ({
    id: `m${i}`,
    embedding: randomVector(random, dim),
    content: `memory ${i}`,
    confidence: { lower: 0.4 + 0.5 * random(), upper: 1 },
  }));
}

/** Cue vectors from their own seed, so every run asks the same questions. */
export function cues(seed: number, count: number, dim: number): Float32Array[] {
  const random = prng(seed);
  return Array.from({ length: count }, () => randomVector(random, dim));
}

/**
 * Creates each space on its primary only (replicas: none), stores `count` memories in it through
 * that primary, and waits until `coordinator` sees every assignment.
 */
export async function placeSpaces(
  cluster: LocalCluster,
  spaces: ReadonlyArray<{ space: string; primary: string }>,
  count: number,
  dim: number,
  coordinator: EngramClient,
): Promise<void> {
  let seed = 1;
  for (const { space, primary } of spaces) {
    const client = cluster.node(primary).client;
    await client.createSpace(space, { dimension: dim, primary, replicas: [] });
    const ms = memories(0x1000 + seed++, count, dim);
    for (let s = 0; s < ms.length; s += 500) await client.store(space, { memories: ms.slice(s, s + 500) });
  }
  const want = new Map(spaces.map((s) => [s.space, s.primary]));
  await cluster.until(`the coordinator to see ${spaces.length} assignments`, 30_000, async () => {
    const seen = (await coordinator.status()).assignments.filter((a) => want.get(a.space) === a.primary && a.replicas.length === 0);
    return seen.length === want.size ? true : undefined;
  });
}

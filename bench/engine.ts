/**
 * Engine benchmarks (DESIGN §6): E1 Spread on a 1,000-memory / 5,000-edge graph, E2 Recall
 * top-10 over 10,000 × 768 memories, both on one in-process engine with durable storage in a
 * temporary directory. Data comes from a seeded PRNG, so every run measures the same graph.
 *
 *   node dist/bench/engine.js [--quick] [--out <dir | file.json>]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/engine/engine.js';
import type { MemoryInput } from '../src/engine/store-batch.js';
import { measure, printTable, writeResults, type Measured } from './common.js';
import { prng } from '../src/util/prng.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const TASK_MS = quick ? 150 : 1000;
const MIN_ITERATIONS = quick ? 10 : 50;

const E1_MEMORIES = 1_000;
const E1_EDGES = 5_000;
const E2_MEMORIES = 10_000;
const DIMENSION = 768;
const STORE_BATCH = 1_000;
const CUES = 16;


function randomVector(random: () => number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) v[i] = random() * 2 - 1;
  return v;
}

async function storeMemories(engine: Engine, space: string, count: number, random: () => number): Promise<void> {
  for (let start = 0; start < count; start += STORE_BATCH) {
    const memories: MemoryInput[] = [];
    for (let i = start; i < Math.min(start + STORE_BATCH, count); i++) {
      memories.push({ id: `m${i}`, embedding: randomVector(random, DIMENSION), content: `memory ${i}`, confidence: { lower: 0.4 + 0.5 * random(), upper: 1 } });
    }
    await engine.store(space, { memories });
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'engram-bench-engine-'));
  let engine = await Engine.open(dir);
  try {
    const random = prng(0x5eed);
    await engine.createSpace('e1-graph', DIMENSION);
    await storeMemories(engine, 'e1-graph', E1_MEMORIES, random);
    const edges = new Set<string>();
    const associations = [];
    while (associations.length < E1_EDGES) {
      const from = Math.floor(random() * E1_MEMORIES);
      const to = Math.floor(random() * E1_MEMORIES);
      if (from === to || edges.has(`${from}>${to}`)) continue;
      edges.add(`${from}>${to}`);
      associations.push({ from: `m${from}`, to: `m${to}`, weight: 0.05 + 0.95 * random() });
    }
    await engine.store('e1-graph', { associations });

    await engine.createSpace('e2-recall', DIMENSION);
    await storeMemories(engine, 'e2-recall', E2_MEMORIES, random);
    const cues = Array.from({ length: CUES }, () => randomVector(random, DIMENSION));
    const seeds = Array.from({ length: CUES }, () => `m${Math.floor(random() * E1_MEMORIES)}`);
    const texts = Array.from({ length: CUES }, (_, i) => `what did memory ${i} say about consolidation and recall`);

    // Reads see the reopened (replayed) engine, as a restarted node would serve them.
    await engine.close();
    engine = await Engine.open(dir);
    const e = engine;
    let i = 0;
    const next = () => (i = (i + 1) % CUES);
    const spreadRows = e.spread('e1-graph', { seeds: [seeds[0]!] }).activation.byteLength / 4;
    const results = await measure([
      ['E1 spread, 1 seed, 1,000 memories / 5,000 edges, hops 3', () => e.spread('e1-graph', { seeds: [seeds[next()]!] })],
      ['spread, 10 seeds, same graph', () => e.spread('e1-graph', { seeds: seeds.slice(0, 10) })],
      ['E2 recall top-10, 10,000 x 768, embedding cue', () => e.recall('e2-recall', { cue: { embedding: cues[next()]! } })],
      ['recall top-10, 10,000 x 768, text cue', () => e.recall('e2-recall', { cue: { text: texts[next()]! } })],
      ['recall top-100, 10,000 x 768, embedding cue', () => e.recall('e2-recall', { cue: { embedding: cues[next()]! }, limit: 100 })],
      ['imagine 5, 10,000 x 768', () => e.imagine('e2-recall', { cue: { embedding: cues[next()]! } })],
      ['complete, half the dimensions known, 10,000 x 768', () => e.complete('e2-recall', { values: cues[next()]!, known: Array.from({ length: DIMENSION }, (_, d) => d % 2 === 0) })],
    ], { timeMs: TASK_MS, iterations: MIN_ITERATIONS, warmupIterations: 10 });
    const replay = await measure([
      ['open (replay) both spaces: 11,000 x 768 + 5,000 edges', async () => (await Engine.open(dir)).close()],
    ], { timeMs: quick ? 1 : 2000, iterations: quick ? 2 : 5, warmupIterations: 1 });

    const all: Measured[] = [...results, ...replay];
    printTable(`engine (${quick ? 'quick' : 'full'} run; E1 spread reaches ${spreadRows} memories from one seed)`, all.map((r) => ({
      task: r.name, 'p50 ms': r.p50, 'p99 ms': r.p99, 'mean ms': r.mean, samples: r.samples,
    })));
    const e1 = results[0]!;
    const e2 = results[2]!;
    const targets = {
      E1: { what: 'Spread, 1,000 memories / 5,000 edges, one node', p50Ms: e1.p50, p99Ms: e1.p99, target: '1-5 ms', goal: '<= 2 ms p50', targetMet: e1.p50 <= 5, goalMet: e1.p50 <= 2 },
      E2: { what: 'Recall top-10 over 10,000 x 768, one node', p50Ms: e2.p50, p99Ms: e2.p99, target: '-', goal: '<= 5 ms p50', targetMet: null, goalMet: e2.p50 <= 5 },
    };
    printTable('targets (DESIGN §6)', Object.entries(targets).map(([id, t]) => ({
      id, what: t.what, 'p50 ms': t.p50Ms, 'p99 ms': t.p99Ms, target: t.target, goal: t.goal, 'target met': t.targetMet ?? '-', 'goal met': t.goalMet,
    })));
    const command = `npm run bench:engine${quick ? ' -- --quick' : ''}`;
    console.log(`wrote ${writeResults('engine.json', command, {
      quick,
      durationS: (performance.now() - started) / 1000,
      data: { e1: { memories: E1_MEMORIES, edges: E1_EDGES, reachedFromOneSeed: spreadRows }, e2: { memories: E2_MEMORIES, dimension: DIMENSION } },
      results: all,
      targets,
    })}`);
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

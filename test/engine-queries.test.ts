import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/engine/engine.js';
import { embedText } from '../src/engine/text-embedder.js';
import { f32Column, f64Column, rowCount, stringAt, u32Column, type ImagineColumns, type RecallColumns, type SpreadColumns } from '../src/wire/columns.js';

const strings = (blob: Uint8Array, offsets: Uint8Array) => {
  const o = u32Column(offsets);
  return Array.from({ length: rowCount(offsets) }, (_, i) => stringAt(blob, o, i));
};
const recallRows = (c: RecallColumns) => {
  const ids = strings(c.ids, c.idOffsets);
  const content = strings(c.content, c.contentOffsets);
  const [lower, upper, sim, at] = [f32Column(c.lower), f32Column(c.upper), f32Column(c.similarity), f64Column(c.createdAt)];
  return ids.map((id, i) => ({ id, content: content[i], lower: lower[i]!, upper: upper[i]!, similarity: sim[i]!, createdAt: at[i]! }));
};
const spreadRows = (c: SpreadColumns) => {
  const a = f32Column(c.activation);
  return strings(c.ids, c.idOffsets).map((id, i) => [id, a[i]!] as const);
};
const imagineRows = (c: ImagineColumns) => {
  const conf = f32Column(c.confidence);
  const emb = f32Column(c.embeddings);
  const sources = strings(c.sources, c.sourceOffsets);
  const content = strings(c.content, c.contentOffsets);
  return strings(c.ids, c.idOffsets).map((id, i) => ({
    id, source: sources[i], content: content[i], confidence: conf[i]!, embedding: Array.from(emb.subarray(i * c.dimension, (i + 1) * c.dimension)),
  }));
};
const close = (actual: number, expected: number, what = '') => assert.ok(Math.abs(actual - expected) < 1e-6, `${what} ${actual} ≠ ${expected}`);
const closeAll = (actual: ArrayLike<number>, expected: number[]) => {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => close(actual[i]!, e, `[${i}]`));
};
const S = Math.SQRT1_2;

let dir: string;
let engine: Engine;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'engram-engine-queries-'));
  engine = await Engine.open(dir, { warn: () => undefined });
});
after(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

describe('recall', () => {
  before(async () => {
    await engine.createSpace('recall', 4);
    await engine.store('recall', {
      memories: [
        { id: 'a', embedding: [2, 0, 0, 0], content: 'alpha', confidence: { lower: 0.6, upper: 0.8 }, createdAt: 1000 },
        { id: 'b', embedding: [1, 1, 0, 0], content: 'beta', createdAt: 2000 },
        { id: 'c', embedding: [0, 0, 1, 0], createdAt: 3000 },
        { id: 'd', embedding: [-1, 0, 0, 0], createdAt: 4000 },
      ],
    });
  });

  test('orders by similarity and scales the stored interval by it', () => {
    const rows = recallRows(engine.recall('recall', { cue: { embedding: [1, 0, 0, 0] } }));
    assert.deepEqual(rows.map((r) => r.id), ['a', 'b', 'c']); // d is at -1, below the default threshold 0
    closeAll(rows.map((r) => r.similarity), [1, S, 0]);
    closeAll(rows.map((r) => r.lower), [0.6, 0.5 * S, 0]);
    closeAll(rows.map((r) => r.upper), [0.8, 0.9 * S, 0]);
    assert.deepEqual(rows.map((r) => r.content), ['alpha', 'beta', '']);
    assert.deepEqual(rows.map((r) => r.createdAt), [1000, 2000, 3000]);
  });

  test('limit and threshold cut the rows', () => {
    assert.deepEqual(recallRows(engine.recall('recall', { cue: { embedding: [1, 0, 0, 0] }, limit: 1 })).map((r) => r.id), ['a']);
    assert.deepEqual(recallRows(engine.recall('recall', { cue: { embedding: [1, 0, 0, 0] }, threshold: 0.5 })).map((r) => r.id), ['a', 'b']);
    assert.deepEqual(recallRows(engine.recall('recall', { cue: { embedding: [1, 0, 0, 0] }, threshold: -1 })).map((r) => r.id), ['a', 'b', 'c', 'd']);
  });

  test('equal similarities come out in id order, also at the limit', async () => {
    await engine.createSpace('recall-ties', 2);
    await engine.store('recall-ties', { memories: ['z', 'x', 'y'].map((id) => ({ id, embedding: [1, 1] })) });
    assert.deepEqual(recallRows(engine.recall('recall-ties', { cue: { embedding: [1, 0] } })).map((r) => r.id), ['x', 'y', 'z']);
    assert.deepEqual(recallRows(engine.recall('recall-ties', { cue: { embedding: [1, 0] }, limit: 2 })).map((r) => r.id), ['x', 'y']);
  });

  test('a text cue finds the memory stored with the same text embedding', async () => {
    await engine.createSpace('recall-text', 64);
    await engine.store('recall-text', {
      memories: [
        { id: 'cat', embedding: embedText('the cat sat on the mat', 64) },
        { id: 'stock', embedding: embedText('quarterly stock market report', 64) },
      ],
    });
    const rows = recallRows(engine.recall('recall-text', { cue: { text: 'The CAT sat on the mat!' }, threshold: -1 }));
    assert.equal(rows[0]!.id, 'cat');
    close(rows[0]!.similarity, 1);
  });

  test('an empty space recalls nothing', async () => {
    await engine.createSpace('recall-empty', 4);
    const c = engine.recall('recall-empty', { cue: { embedding: [1, 0, 0, 0] } });
    assert.equal(rowCount(c.idOffsets), 0);
  });
});

describe('spread', () => {
  before(async () => {
    await engine.createSpace('spread', 2);
    await engine.store('spread', {
      memories: ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, embedding: [1, 0] })),
      associations: [
        { from: 'a', to: 'b', weight: 0.5 },
        { from: 'a', to: 'c', weight: 0.8 },
        { from: 'b', to: 'c', weight: 0.5 },
        { from: 'c', to: 'd', weight: 0.1 },
        { from: 'a', to: 'e', weight: 1, toSpace: 'other-space' },
      ],
    });
  });

  test('passes pulse × weight × (1 − decay) per hop, sums, and drops pulses below threshold', () => {
    const rows = spreadRows(engine.spread('spread', { seeds: ['a'] }));
    // hop 1: b = 0.5·0.85 = 0.425, c = 0.8·0.85 = 0.68
    // hop 2: c += 0.425·0.5·0.85 = 0.180625 → 0.860625; d = 0.68·0.1·0.85 = 0.0578
    // hop 3: d would get 0.180625·0.1·0.85 = 0.01535 < 0.02: dropped. e is in another space: skipped.
    assert.deepEqual(rows.map(([id]) => id), ['a', 'c', 'b', 'd']);
    closeAll(rows.map(([, a]) => a), [1, 0.860625, 0.425, 0.0578]);
  });

  test('hops, decay and threshold are honoured; unknown seeds are ignored', () => {
    assert.deepEqual(spreadRows(engine.spread('spread', { seeds: ['a', 'nope'], hops: 0 })), [['a', 1]]);
    const one = spreadRows(engine.spread('spread', { seeds: ['a'], hops: 1, decay: 0 }));
    assert.deepEqual(one.map(([id]) => id), ['a', 'c', 'b']);
    closeAll(one.map(([, a]) => a), [1, 0.8, 0.5]);
    assert.deepEqual(spreadRows(engine.spread('spread', { seeds: ['a'], threshold: 0.6 })).map(([id]) => id), ['a', 'c']);
    assert.deepEqual(spreadRows(engine.spread('spread', { seeds: ['nope'] })), []);
  });

  test('activation is clamped to 1 around a cycle and ties come out by id', async () => {
    await engine.createSpace('spread-cycle', 2);
    await engine.store('spread-cycle', {
      memories: [{ id: 'y', embedding: [1, 0] }, { id: 'x', embedding: [1, 0] }],
      associations: [{ from: 'x', to: 'y', weight: 1 }, { from: 'y', to: 'x', weight: 1 }],
    });
    assert.deepEqual(spreadRows(engine.spread('spread-cycle', { seeds: ['y'], decay: 0 })), [['x', 1], ['y', 1]]);
  });

  test('an edge to a memory stored later joins the graph when it is stored', async () => {
    await engine.createSpace('spread-later', 2);
    await engine.store('spread-later', { memories: [{ id: 'a', embedding: [1, 0] }], associations: [{ from: 'a', to: 'b', weight: 1 }] });
    assert.deepEqual(spreadRows(engine.spread('spread-later', { seeds: ['a'], decay: 0 })), [['a', 1]]);
    await engine.store('spread-later', { memories: [{ id: 'b', embedding: [1, 0] }] });
    assert.deepEqual(spreadRows(engine.spread('spread-later', { seeds: ['a'], decay: 0 })), [['a', 1], ['b', 1]]);
  });

  test('restating an association replaces its weight', async () => {
    await engine.store('spread', { associations: [{ from: 'a', to: 'b', weight: 0.2 }] });
    const rows = spreadRows(engine.spread('spread', { seeds: ['a'], hops: 1, decay: 0 }));
    assert.deepEqual(rows.find(([id]) => id === 'b'), ['b', Math.fround(0.2)]);
    assert.equal(engine.spaceInfo('spread').associations, 5);
  });
});

describe('complete', () => {
  before(async () => {
    await engine.createSpace('complete', 4);
    await engine.store('complete', {
      memories: [
        { id: 'm1', embedding: [1, 0, 1, 0], confidence: { lower: 1, upper: 1 } },
        { id: 'm2', embedding: [0, 1, 0, 1], confidence: { lower: 1, upper: 1 } },
      ],
    });
  });

  test('fills the unknown dimensions from the nearest memory on the known ones', () => {
    const out = engine.complete('complete', { values: [1, 0, 99, 99], known: [true, true, false, false] });
    // m1 on the known dims is (S, 0): cosine 1; m2 is (0, S): cosine 0, not a source.
    closeAll(out.embedding, [1, 0, S, 0]);
    assert.deepEqual(out.sources, ['m1']);
    close(out.confidence, 1 * 1 * (2 / 4));
  });

  test('weights several sources by similarity × confidence midpoint', async () => {
    await engine.store('complete', { memories: [{ id: 'm3', embedding: [1, 1, 1, 1], confidence: { lower: 0.5, upper: 0.5 } }] });
    const out = engine.complete('complete', { values: [1, 0, 0, 0], known: new Uint8Array([1, 1, 0, 0]) });
    // m1: sim 1, mid 1 → w 1. m3: known part (0.5, 0.5) → sim S, mid 0.5 → w S/2.
    const w1 = 1;
    const w3 = S / 2;
    assert.deepEqual(out.sources, ['m1', 'm3']);
    closeAll(out.embedding, [1, 0, (w1 * S + w3 * 0.5) / (w1 + w3), (w3 * 0.5) / (w1 + w3)]);
    close(out.confidence, ((w1 * 1 + w3 * S) / (w1 + w3)) * ((1 + 0.5) / 2) * (2 / 4));
    assert.deepEqual(engine.complete('complete', { values: [1, 0, 0, 0], known: [true, true, false, false], neighbours: 1 }).sources, ['m1']);
  });

  test('no similar memory: unknowns are 0 and confidence 0', () => {
    const out = engine.complete('complete', { values: [-1, -1, 0, 0], known: [true, true, false, false] });
    closeAll(out.embedding, [-1, -1, 0, 0]);
    assert.equal(out.confidence, 0);
    assert.deepEqual(out.sources, []);
  });
});

describe('consolidate', () => {
  test('groups similar memories, is idempotent, and only groups new memories later', async () => {
    await engine.createSpace('consolidate', 4);
    await engine.store('consolidate', {
      memories: [
        { id: 'p1', embedding: [1, 0, 0, 0] },
        { id: 'p2', embedding: [0.99, 0.1, 0, 0] },
        { id: 'p3', embedding: [0, 1, 0, 0] },
        { id: 'p4', embedding: [0, 0.99, 0.1, 0] },
        { id: 'q', embedding: [0, 0, 0, 1] },
      ],
    });
    const first = await engine.consolidate('consolidate', {});
    assert.deepEqual({ ...first, durationMs: 0 }, { memories: 5, patternsCreated: 2, patternsTotal: 2, memoriesInPatterns: 4, durationMs: 0, stoppedEarly: false });
    assert.ok(first.durationMs >= 0);
    const position = engine.spaceInfo('consolidate').logPosition;
    const again = await engine.consolidate('consolidate', {});
    assert.deepEqual([again.patternsCreated, again.patternsTotal, again.memoriesInPatterns], [0, 2, 4]);
    assert.equal(engine.spaceInfo('consolidate').logPosition, position, 'a run that creates nothing writes nothing');

    await engine.store('consolidate', { memories: [{ id: 'r', embedding: [0, 0, 0.1, 0.99] }] });
    const third = await engine.consolidate('consolidate');
    assert.deepEqual([third.memories, third.patternsCreated, third.patternsTotal, third.memoriesInPatterns], [6, 1, 3, 6]);
    assert.equal(engine.spaceInfo('consolidate').patterns, 3);
  });

  test('a large run yields to the event loop, and one stopped at its deadline is finished by the next with the same patterns', async () => {
    // 4,000 memories × 64 dims, in 40 clusters: the quadratic scan takes far more than a slice.
    const dim = 64;
    const rand = (() => { let x = 42; return () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31); })();
    const centres = Array.from({ length: 40 }, () => Array.from({ length: dim }, () => rand() - 0.5));
    const memories = Array.from({ length: 4_000 }, (_, i) => ({ id: `m${String(i).padStart(5, '0')}`, embedding: centres[i % 40]!.map((v) => v + (rand() - 0.5) * 0.05) }));
    for (const space of ['slices-a', 'slices-b']) {
      await engine.createSpace(space, dim);
      await engine.store(space, { memories });
    }
    // Random directions group with nothing: every pair is compared (8 million dot products).
    await engine.createSpace('slices-scan', dim);
    await engine.store('slices-scan', { memories: memories.map((m) => ({ id: m.id, embedding: m.embedding.map(() => rand() - 0.5) })) });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    const scan = await engine.consolidate('slices-scan', { threshold: 0.95 });
    clearInterval(ticker);
    assert.equal(scan.patternsCreated, 0);
    assert.ok(ticks > 0, `timers ran ${ticks} times during a ${scan.durationMs.toFixed(0)} ms run`);

    const full = await engine.consolidate('slices-a', { threshold: 0.95 });
    assert.equal(full.stoppedEarly, false);

    const cut = await engine.consolidate('slices-b', { threshold: 0.95, deadline: Date.now() + 1 });
    assert.equal(cut.stoppedEarly, true);
    assert.ok(cut.patternsCreated < full.patternsCreated, `${cut.patternsCreated} of ${full.patternsCreated} before the deadline`);
    const rest = await engine.consolidate('slices-b', { threshold: 0.95 });
    assert.equal(rest.stoppedEarly, false);
    assert.deepEqual([rest.patternsTotal, rest.memoriesInPatterns], [full.patternsTotal, full.memoriesInPatterns]);
  });

  test('a lower threshold groups what a higher one left alone', async () => {
    await engine.createSpace('consolidate-t', 2);
    await engine.store('consolidate-t', { memories: [{ id: 'a', embedding: [1, 0] }, { id: 'b', embedding: [1, 1] }] });
    assert.equal((await engine.consolidate('consolidate-t', { threshold: 0.9 })).patternsCreated, 0);
    assert.equal((await engine.consolidate('consolidate-t', { threshold: 0.7 })).patternsCreated, 1);
  });
});

describe('imagine', () => {
  before(async () => {
    await engine.createSpace('imagine', 4);
    await engine.store('imagine', {
      memories: [
        { id: 'a', embedding: [1, 0, 0, 0], content: 'alpha', confidence: { lower: 0.8, upper: 1 } },
        { id: 'b', embedding: [0, 1, 0, 0] },
        { id: 'c', embedding: [-1, 0, 0, 0], content: 'opposite' },
      ],
    });
  });

  test('blends each near memory with the cue and discounts confidence by novelty', () => {
    const rows = imagineRows(engine.imagine('imagine', { cue: { embedding: [1, 1, 0, 0] }, novelty: 0.5 }));
    assert.deepEqual(rows.map((r) => r.id), ['imagined:imagine:a', 'imagined:imagine:b']); // c has similarity < 0
    assert.deepEqual(rows.map((r) => r.source), ['a', 'b']);
    assert.deepEqual(rows.map((r) => r.content), ['imagined from alpha', 'imagined from b']);
    // similarity S × confidence midpoint × (1 − 0.5 / 2)
    closeAll(rows.map((r) => r.confidence), [S * 0.9 * 0.75, S * 0.7 * 0.75]);
    // normalize(0.5·(1,0,0,0) + 0.5·(S,S,0,0)) is the vector at 22.5°
    closeAll(rows[0]!.embedding, [Math.cos(Math.PI / 8), Math.sin(Math.PI / 8), 0, 0]);
    closeAll(rows[1]!.embedding, [Math.sin(Math.PI / 8), Math.cos(Math.PI / 8), 0, 0]);
  });

  test('default novelty 0.3 and limit', () => {
    const rows = imagineRows(engine.imagine('imagine', { cue: { embedding: [1, 0, 0, 0] }, limit: 1 }));
    assert.equal(rows.length, 1);
    close(rows[0]!.confidence, 1 * 0.9 * (1 - 0.15));
    closeAll(rows[0]!.embedding, [1, 0, 0, 0]);
  });
});

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, SpaceConflictError, SpaceNotFoundError } from '../src/errors.js';
import { Engine, patternRecords } from '../src/engine/engine.js';
import { EngineClosedError } from '../src/errors.js';
import { MAX_BATCH_MEMORIES, MAX_CONTENT_BYTES, MAX_RECALL_LIMIT, MAX_RECORD_BYTES } from '../src/engine/limits.js';
import type { MemoryInput, StoreBatch } from '../src/engine/store-batch.js';
import { logPath } from '../src/storage/space-log.js';

const invalid = (field: string) => (e: unknown) => {
  assert.ok(e instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(e)}`);
  assert.equal(e.field, field);
  assert.equal(e.code, 'ERR_INVALID_ARGUMENT');
  return true;
};
const ok = (id: string, embedding: number[] = [1, 0, 0, 0]): MemoryInput => ({ id, embedding });

let dir: string;
let engine: Engine;
const quiet = { warn: () => undefined };
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'engram-engine-validation-'));
  engine = await Engine.open(dir, quiet);
  await engine.createSpace('space', 4);
  await engine.store('space', { memories: [ok('kept')] });
});
after(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

describe('spaces', () => {
  test('ids must be 3-64 characters of [a-z0-9_-]', async () => {
    for (const bad of ['ab', 'Abc', 'a'.repeat(65), 'sp ace', 'dot.dot', '']) {
      await assert.rejects(engine.createSpace(bad, 4), invalid('space'), bad);
    }
    assert.throws(() => engine.recall('UPPER', { cue: { embedding: [1, 0, 0, 0] } }), invalid('space'));
    assert.deepEqual(await engine.createSpace('a'.repeat(64), 4), { created: true, dimension: 4 });
  });

  test('dimension 1..4096, default 768; same again is not created, another conflicts', async () => {
    for (const bad of [0, 4097, 1.5, -1, NaN]) await assert.rejects(engine.createSpace('dims', bad), invalid('dimension'));
    assert.deepEqual(await engine.createSpace('dims'), { created: true, dimension: 768 });
    assert.deepEqual(await engine.createSpace('dims', 768), { created: false, dimension: 768 });
    await assert.rejects(engine.createSpace('dims', 4), SpaceConflictError);
    assert.equal(engine.spaceInfo('dims').dimension, 768);
  });

  test('concurrent creates of one space create it once', async () => {
    const results = await Promise.all([engine.createSpace('race', 8), engine.createSpace('race', 8), engine.createSpace('race', 8)]);
    assert.deepEqual(results.map((r) => r.created).sort(), [false, false, true]);
  });

  test('an unknown space is SpaceNotFoundError for every operation', async () => {
    const cue = { cue: { embedding: [1] } };
    assert.throws(() => engine.recall('missing', cue), SpaceNotFoundError);
    assert.throws(() => engine.spread('missing', { seeds: [] }), SpaceNotFoundError);
    assert.throws(() => engine.complete('missing', { values: [1], known: [true] }), SpaceNotFoundError);
    assert.throws(() => engine.imagine('missing', cue), SpaceNotFoundError);
    assert.throws(() => engine.spaceInfo('missing'), SpaceNotFoundError);
    await assert.rejects(engine.store('missing', { memories: [ok('x')] }), SpaceNotFoundError);
    await assert.rejects(engine.consolidate('missing'), SpaceNotFoundError);
    assert.equal(engine.hasSpace('missing'), false);
  });
});

describe('store batches', () => {
  const cases: Array<[string, StoreBatch, string]> = [
    ['wrong dimension', { memories: [ok('a'), ok('b', [1, 0, 0])] }, 'memories[1].embedding'],
    ['NaN', { memories: [ok('a', [1, NaN, 0, 0])] }, 'memories[0].embedding'],
    ['Infinity', { memories: [ok('a', [Infinity, 0, 0, 0])] }, 'memories[0].embedding'],
    ['f32 overflow', { memories: [ok('a', [1e39, 0, 0, 0])] }, 'memories[0].embedding'],
    ['zero vector', { memories: [ok('a', [0, 0, 0, 0])] }, 'memories[0].embedding'],
    ['not numbers', { memories: [{ id: 'a', embedding: 'nope' as unknown as number[] }] }, 'memories[0].embedding'],
    ['lower < 0', { memories: [{ ...ok('a'), confidence: { lower: -0.1, upper: 0.5 } }] }, 'memories[0].confidence.lower'],
    ['upper > 1', { memories: [{ ...ok('a'), confidence: { lower: 0.1, upper: 1.1 } }] }, 'memories[0].confidence.upper'],
    ['lower > upper', { memories: [{ ...ok('a'), confidence: { lower: 0.7, upper: 0.6 } }] }, 'memories[0].confidence.lower'],
    ['NaN confidence', { memories: [{ ...ok('a'), confidence: { lower: NaN, upper: 0.6 } }] }, 'memories[0].confidence.lower'],
    ['empty id', { memories: [ok('')] }, 'memories[0].id'],
    ['id over 256 bytes', { memories: [ok('é'.repeat(129))] }, 'memories[0].id'],
    ['duplicate ids', { memories: [ok('a'), ok('b'), ok('a')] }, 'memories[2].id'],
    ['content over the cap', { memories: [{ ...ok('a'), content: 'x'.repeat(MAX_CONTENT_BYTES + 1) }] }, 'memories[0].content'],
    ['negative createdAt', { memories: [{ ...ok('a'), createdAt: -1 }] }, 'memories[0].createdAt'],
    ['too many memories', { memories: Array.from({ length: MAX_BATCH_MEMORIES + 1 }, (_, i) => ok(`m${i}`)) }, 'memories'],
    ['weight 0', { memories: [ok('a')], associations: [{ from: 'a', to: 'kept', weight: 0 }] }, 'associations[0].weight'],
    ['weight > 1', { memories: [ok('a')], associations: [{ from: 'a', to: 'kept', weight: 1.5 }] }, 'associations[0].weight'],
    ['weight NaN', { memories: [ok('a')], associations: [{ from: 'a', to: 'kept', weight: NaN }] }, 'associations[0].weight'],
    ['unknown from', { memories: [ok('a')], associations: [{ from: 'kept', to: 'a', weight: 1 }, { from: 'ghost', to: 'a', weight: 1 }] }, 'associations[1].from'],
    ['empty to', { memories: [ok('a')], associations: [{ from: 'a', to: '', weight: 1 }] }, 'associations[0].to'],
    ['bad toSpace', { memories: [ok('a')], associations: [{ from: 'a', to: 'b', weight: 1, toSpace: 'X' }] }, 'associations[0].toSpace'],
  ];

  for (const [name, batch, field] of cases) {
    test(`${name} → InvalidArgumentError on ${field}, nothing stored`, async () => {
      const before = engine.spaceInfo('space');
      const bytes = (await stat(logPath(dir, 'space'))).size;
      await assert.rejects(engine.store('space', batch), invalid(field));
      assert.deepEqual(engine.spaceInfo('space'), before);
      assert.equal((await stat(logPath(dir, 'space'))).size, bytes);
      assert.equal(engine.recall('space', { cue: { embedding: [1, 0, 0, 0] }, threshold: -1 }).ids.byteLength, 'kept'.length);
    });
  }

  test('from may be a memory stored before or in the same batch; an existing id is replaced', async () => {
    const r = await engine.store('space', {
      memories: [ok('new', [0, 1, 0, 0]), ok('kept', [0, 0, 1, 0])],
      associations: [{ from: 'kept', to: 'new', weight: 1 }, { from: 'new', to: 'kept', weight: 1 }],
    });
    assert.deepEqual([r.memories, r.associations], [2, 2]);
    const info = engine.spaceInfo('space');
    assert.deepEqual([info.memories, info.associations], [2, 2]);
    const top = engine.recall('space', { cue: { embedding: [0, 0, 1, 0] }, limit: 1 });
    assert.equal(new TextDecoder().decode(top.ids), 'kept');
  });

  test('an empty batch writes nothing', async () => {
    const before = engine.spaceInfo('space');
    assert.deepEqual(await engine.store('space', {}), { memories: 0, associations: 0, logPosition: before.logPosition });
    assert.deepEqual(engine.spaceInfo('space'), before);
  });

  test('a batch that would log past MAX_RECORD_BYTES is refused whole, naming the limit; one under it is stored', async () => {
    await engine.createSpace('big-writes', 4096);
    const wide = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, embedding: Array.from({ length: 4096 }, (_, j) => Math.sin(i + j)) }));
    const before = engine.spaceInfo('big-writes');
    // 4096 floats as base64 are ~21.9 KB a memory: 400 of them pass 8 MiB.
    await assert.rejects(engine.store('big-writes', { memories: wide('x', 400) }), (e: unknown) => {
      invalid('batch')(e);
      assert.match((e as Error).message, new RegExp(`one write is at most ${MAX_RECORD_BYTES} bytes \\(MAX_RECORD_BYTES\\): split it`));
      return true;
    });
    assert.deepEqual(engine.spaceInfo('big-writes'), before, 'nothing of it was written');
    const half = await engine.store('big-writes', { memories: wide('y', 200) });
    assert.equal(half.memories, 200);
  });

  test('a consolidation larger than MAX_RECORD_BYTES is logged over several records, each under it', () => {
    const id = (i: number, j: number) => `m-${i}-${j}-${'x'.repeat(200)}`;
    // Each pattern ~3.2 MB of member ids: 3 of them are 9.6 MB, past the limit; one alone is not.
    const pattern = (i: number) => ({ id: `p${i}`, centroid: new Float32Array(4), members: Array.from({ length: 15_000 }, (_, j) => id(i, j)) });
    const records = patternRecords([pattern(0), pattern(1), pattern(2)], 0.9);
    assert.ok(records.length >= 2, `${records.length} records`);
    for (const r of records) assert.ok(r.payload.byteLength <= MAX_RECORD_BYTES, `${r.payload.byteLength} bytes`);
    assert.deepEqual(records.flatMap((r) => r.record.patterns.map((p) => p.id)), ['p0', 'p1', 'p2'], 'every pattern, in order');
    // One pattern too large to log alone is left out; the rest still are.
    const huge = { id: 'huge', centroid: new Float32Array(4), members: Array.from({ length: 40_000 }, (_, j) => id(9, j)) };
    assert.deepEqual(patternRecords([pattern(0), huge], 0.9).flatMap((r) => r.record.patterns.map((p) => p.id)), ['p0']);
  });

  test('a rejected batch is still absent after reopening', async () => {
    await engine.createSpace('reject-reopen', 4);
    await engine.store('reject-reopen', { memories: [ok('a')] });
    await assert.rejects(engine.store('reject-reopen', { memories: [ok('b'), ok('c', [NaN, 0, 0, 0])] }), invalid('memories[1].embedding'));
    const again = await Engine.open(dir, quiet);
    try {
      assert.deepEqual(again.spaceInfo('reject-reopen'), engine.spaceInfo('reject-reopen'));
      assert.equal(again.spaceInfo('reject-reopen').memories, 1);
    } finally {
      await again.close();
    }
  });
});

describe('query parameters', () => {
  const cue = { embedding: [1, 0, 0, 0] };
  test('recall', () => {
    for (const limit of [0, -1, MAX_RECALL_LIMIT + 1, 1.5]) assert.throws(() => engine.recall('space', { cue, limit }), invalid('limit'));
    assert.throws(() => engine.recall('space', { cue, threshold: 2 }), invalid('threshold'));
    assert.throws(() => engine.recall('space', { cue: { embedding: [1, 0] } }), invalid('cue.embedding'));
    assert.throws(() => engine.recall('space', { cue: { text: ' ?! ' } }), invalid('cue.text'));
    assert.throws(() => engine.recall('space', { cue: {} as never }), invalid('cue'));
  });
  test('spread', () => {
    assert.throws(() => engine.spread('space', { seeds: ['kept'], hops: 11 }), invalid('hops'));
    assert.throws(() => engine.spread('space', { seeds: ['kept'], hops: -1 }), invalid('hops'));
    assert.throws(() => engine.spread('space', { seeds: ['kept'], decay: 1.5 }), invalid('decay'));
    assert.throws(() => engine.spread('space', { seeds: ['kept'], threshold: -0.1 }), invalid('threshold'));
    assert.throws(() => engine.spread('space', { seeds: 'kept' as never }), invalid('seeds'));
    assert.throws(() => engine.spread('space', { seeds: ['kept', 3 as never] }), invalid('seeds[1]'));
  });
  test('complete', () => {
    assert.throws(() => engine.complete('space', { values: [1, 0], known: [true, true] }), invalid('values'));
    assert.throws(() => engine.complete('space', { values: [1, 0, 0, 0], known: [true] }), invalid('known'));
    assert.throws(() => engine.complete('space', { values: [1, 0, 0, 0], known: [false, false, false, false] }), invalid('known'));
    assert.throws(() => engine.complete('space', { values: [0, 0, 1, 1], known: [true, true, false, false] }), invalid('values'));
    assert.throws(() => engine.complete('space', { values: [NaN, 0, 1, 1], known: [true, true, false, false] }), invalid('values'));
    assert.throws(() => engine.complete('space', { values: [1, 0, 0, 0], known: [true, true, true, true], neighbours: 0 }), invalid('neighbours'));
  });
  test('consolidate and imagine', async () => {
    await assert.rejects(engine.consolidate('space', { threshold: 1.5 }), invalid('threshold'));
    assert.throws(() => engine.imagine('space', { cue, novelty: 2 }), invalid('novelty'));
    assert.throws(() => engine.imagine('space', { cue, limit: 101 }), invalid('limit'));
    assert.throws(() => engine.imagine('space', { cue, limit: 0 }), invalid('limit'));
  });
});

test('a closed engine refuses every call', async () => {
  const d = await mkdtemp(join(tmpdir(), 'engram-engine-closed-'));
  try {
    const e = await Engine.open(d, quiet);
    await e.createSpace('closed', 4);
    await e.close();
    await assert.rejects(e.store('closed', { memories: [ok('a')] }), EngineClosedError);
    await assert.rejects(e.createSpace('other', 4), EngineClosedError);
    assert.throws(() => e.recall('closed', { cue: { embedding: [1, 0, 0, 0] } }), EngineClosedError);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

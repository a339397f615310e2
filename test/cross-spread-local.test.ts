/**
 * A Spread over several spaces on one node (the in-process executor: every partition local, the
 * rounds and the pulse merges as in a cluster) equals the engine's Spread over the union of the
 * spaces' graphs, over many random graphs; and its input errors. The same property on three
 * real node processes is test/cross-spread.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Engine } from '../src/engine/engine.js';
import { LocalExecutor } from '../src/query/local-executor.js';
import { InvalidArgumentError, SpaceNotFoundError } from '../src/errors.js';
import type { QueryResult, ResultOf } from '../src/query/result.js';
import { assertSameActivations, byKey, GRAPH_DIM, randomCase, storeBatch, unionSpread } from './helpers/spread-graphs.js';

function spreadOf(r: QueryResult): ResultOf<'spread'> {
  assert.equal(r.kind, 'spread');
  return r as ResultOf<'spread'>;
}

describe('Spread over several spaces, in process', () => {
  let dir: string;
  let engine: Engine;
  let executor: LocalExecutor;
  let made = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'engram-cross-spread-'));
    engine = await Engine.open(dir);
    executor = new LocalExecutor(engine, 'solo');
  });
  after(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function place(seed: number, spaceCount?: number) {
    const c = randomCase(seed, `c${made++}`, spaceCount);
    for (const g of c.graphs) {
      await engine.createSpace(g.space, GRAPH_DIM);
      await engine.store(g.space, storeBatch(g));
    }
    return c;
  }

  it('equals the union graph Spread to 1e-6 over random graphs of 2-6 spaces', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (seed) => {
        const c = await place(seed);
        const r = spreadOf(await executor.execute({ kind: 'spread', spaces: c.spaces, seeds: c.seeds, hops: c.hops, decay: c.decay, threshold: c.threshold }));
        assertSameActivations(byKey(r.activations), await unionSpread(c), `seed ${seed}`);
        assert.equal(r.coverage.full, true);
        assert.equal(r.coverage.penalty, 0);
        assert.ok(r.coverage.rounds! >= 1 && r.coverage.rounds! <= c.hops + 1, `rounds ${r.coverage.rounds}`);
        // Sorted by activation desc, then space and id.
        for (let i = 1; i < r.activations.length; i++) assert.ok(r.activations[i - 1]!.activation >= r.activations[i]!.activation);
      }),
      { numRuns: 150 },
    );
  });

  it('all spaces: the cluster\'s every space, pulses toward any of them kept', async () => {
    const c = await place(7, 3);
    // Every space the engine has now takes part, including earlier tests' spaces: none is reached.
    const r = spreadOf(await executor.execute({ kind: 'spread', spaces: 'all', seeds: c.seeds, hops: c.hops, decay: c.decay, threshold: c.threshold }));
    assertSameActivations(byKey(r.activations), await unionSpread(c), 'all spaces');
    assert.equal(r.coverage.expected, engine.spaces().length);
  });

  it('reports the rounds per partition: a space no pulse reached was not asked', async () => {
    const a = 'rounds-a';
    const b = 'rounds-b';
    const idle = 'rounds-idle';
    for (const s of [a, b, idle]) await engine.createSpace(s, GRAPH_DIM);
    const m = (id: string) => ({ id, embedding: [1, 0, 0, 0] });
    await engine.store(b, { memories: [m('y')] });
    await engine.store(idle, { memories: [m('z')] });
    await engine.store(a, { memories: [m('x')], associations: [{ from: 'x', to: 'y', toSpace: b, weight: 1 }] });
    const r = spreadOf(await executor.execute({ kind: 'spread', spaces: [a, b, idle], seeds: [`${a}/x`], hops: 3, decay: 0.5 }));
    assert.deepEqual(r.activations, [{ space: a, id: 'x', activation: 1 }, { space: b, id: 'y', activation: 0.5 }]);
    // a: the seeds' round, then hop 1 from x (which has no edge in a); b: hop 1 (the pulse from
    // a), then hop 2 from y (no edge either); then nothing is left to pass on: 3 of the 4 rounds.
    assert.equal(r.coverage.rounds, 3);
    assert.deepEqual(r.coverage.partitions.map((p) => [p.partition, p.status, p.rounds]), [[a, 'ok', 2], [b, 'ok', 2], [idle, 'ok', 0]]);
  });

  it('refuses bad seeds and spaces with typed errors before any round', async () => {
    await engine.createSpace('errs-a', GRAPH_DIM);
    const bad = async (q: object, field: string | RegExp) => {
      const err = await executor.execute({ kind: 'spread', hops: 2, ...q } as never).catch((e: unknown) => e);
      assert.ok(err instanceof InvalidArgumentError || err instanceof SpaceNotFoundError, String(err));
      if (err instanceof InvalidArgumentError) assert.match(err.message, typeof field === 'string' ? new RegExp(field.replace(/[[\]]/g, '\\$&')) : field);
      return err;
    };
    await bad({ spaces: ['errs-a'], seeds: ['x'] }, 'seeds[0]');
    await bad({ spaces: ['errs-a'], seeds: ['other-space/x'] }, /not one of the Spread's spaces/);
    await bad({ spaces: ['errs-a'], seeds: ['errs-a/'] }, 'seeds[0]');
    await bad({ spaces: [], seeds: [] }, /at least one space/);
    await bad({ spaces: ['errs-a', 'errs-a'], seeds: [] }, /named twice/);
    await bad({ spaces: ['errs-a'], seeds: [], hops: 11 }, 'hops');
    await bad({ spaces: ['errs-a'], seeds: [], decay: 2 }, 'decay');
    assert.ok((await bad({ spaces: ['errs-a', 'no-such-space'], seeds: [] }, '')) instanceof SpaceNotFoundError);
  });
});

/**
 * A merged answer lists tied entries by id in code-point order (docs/engine.md), whatever the
 * query kind: ids above U+FFFF come after U+FF21, although their UTF-16 code units sort first.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/engine/engine.js';
import { LocalExecutor } from '../src/query/local-executor.js';

// U+FF21 (fullwidth A), then U+1F600 (an emoji: a surrogate pair in UTF-16), then U+10FFFF.
const TIED = ['\uFF21', '\u{1F600}', '\u{10FFFF}'];

describe('result order of tied entries', () => {
  let dir: string;
  let engine: Engine;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'engram-order-'));
    engine = await Engine.open(dir, { warn: () => undefined });
    await engine.createSpace('order', 2);
    await engine.store('order', {
      memories: ['seed', ...TIED].map((id) => ({ id, embedding: [1, 0] })),
      // Equal weights: every target gets the same activation, so only the id orders them.
      associations: [...TIED].reverse().map((to) => ({ from: 'seed', to, weight: 0.5 })),
    });
  });
  after(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('Spread orders tied activations by code point', async () => {
    const r = await new LocalExecutor(engine, 'n1').execute({ kind: 'spread', space: 'order', seeds: ['seed'], hops: 1 });
    assert.ok(r.kind === 'spread');
    const tied = r.activations.filter((a) => a.id !== 'seed');
    assert.equal(new Set(tied.map((a) => a.activation)).size, 1, 'the targets are tied');
    assert.deepEqual(tied.map((a) => a.id), TIED);
  });

  it('Recall orders tied memories the same way', async () => {
    const r = await new LocalExecutor(engine, 'n1').execute({ kind: 'recall', space: 'order', cue: { embedding: Float32Array.of(1, 0) }, limit: 10 });
    assert.ok(r.kind === 'recall');
    assert.deepEqual(r.memories.map((m) => m.id), [...TIED, 'seed'].sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b)))));
  });
});

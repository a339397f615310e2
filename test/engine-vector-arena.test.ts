import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorArena } from '../src/engine/vector-arena.js';
import { dotAt } from '../src/engine/vector.js';

function random(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
}

for (const dim of [4, 12, 768, 3, 10]) {
  test(`scan equals the f64 dot product within f32 rounding, across growth (dimension ${dim})`, () => {
    const next = random(dim);
    const arena = new VectorArena(dim, 16);
    const rows = 1000;
    for (let r = 0; r < rows; r++) {
      if (r === arena.capacity) arena.grow(arena.capacity * 2);
      for (let d = 0; d < dim; d++) arena.vectors[r * dim + d] = next();
    }
    const cue = Float32Array.from({ length: dim }, next);
    const scores = arena.scan(cue, rows);
    assert.equal(scores.length, rows);
    for (let r = 0; r < rows; r++) {
      const exact = dotAt(cue, arena.vectors, r * dim, dim);
      assert.ok(Math.abs(scores[r]! - exact) <= 1e-5 * dim, `row ${r}: ${scores[r]} vs ${exact}`);
    }
    assert.deepEqual(arena.scan(cue, rows), scores, 'deterministic');
    assert.equal(arena.scan(cue, 0).length, 0);
  });
}

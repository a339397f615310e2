import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../src/errors.js';
import { embedText, fnv1a32 } from '../src/engine/text-embedder.js';

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

test('FNV-1a 32 matches the published test vectors', () => {
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
});

test('a golden vector: the same text gives the same buckets and signs everywhere', () => {
  // "hello" and "world": 2 word features + 2 × 5 trigrams of #hello# / #world#, two of which share bucket 0.
  const v = embedText('Hello, world', 16);
  const counts = Array.from(v, (x) => Math.round(x * Math.sqrt(14)));
  assert.deepEqual(counts, [2, 0, -1, -1, -1, 0, -1, -1, 1, 1, -1, 0, 1, 0, 0, 1]);
});

test('deterministic, L2-normalized, case- and punctuation-insensitive', () => {
  for (const dim of [1, 7, 64, 768, 4096]) {
    const text = 'The quick brown fox jumps over the lazy dog';
    const v = embedText(text, dim);
    assert.equal(v.length, dim);
    assert.ok(Math.abs(norm(v) - 1) < 1e-6, `dimension ${dim}`);
    assert.deepEqual(embedText(text, dim), v);
  }
  assert.deepEqual(embedText('HELLO   world!!', 64), embedText('hello world', 64));
  assert.deepEqual(embedText('ﬁne', 64), embedText('fine', 64)); // NFKC folds the ligature
});

test('related texts are closer than unrelated ones', () => {
  const a = embedText('memory consolidation during sleep', 768);
  const b = embedText('sleep consolidates memories', 768);
  const c = embedText('quarterly revenue of the steel industry', 768);
  assert.ok(cos(a, b) > cos(a, c) + 0.2, `${cos(a, b)} vs ${cos(a, c)}`);
});

test('a text without letters or digits has no embedding', () => {
  assert.throws(() => embedText('', 16), InvalidArgumentError);
  assert.throws(() => embedText(' ,.;!? ', 16), (e: unknown) => e instanceof InvalidArgumentError && e.field === 'cue.text');
});

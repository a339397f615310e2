/**
 * The addon's exports: their generated types match the hand-written `NativeBinding`, and each
 * export, loaded the way the package loads it, gives the hand-computed answer.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as Generated from '../native/binding.cjs';
import { nativeBinding } from '../src/native/binding.js';
import type { NativeBinding, NativeRecallPart, NativeSpreadPart, NativeImaginePart } from '../src/native/types.js';

// Compile-time only: fails `tsc` when the generated declarations drift from NativeBinding.
const _generatedMatches = (g: typeof Generated): NativeBinding => g;
void _generatedMatches;

/** `bytes` copied to offset 1 of a fresh buffer: the addon must read unaligned views. */
function unaligned(bytes: Uint8Array): Uint8Array {
  const buf = new Uint8Array(bytes.byteLength + 1);
  buf.set(bytes, 1);
  return buf.subarray(1);
}

function ids(values: string[]): { ids: Uint8Array; offsets: Uint8Array } {
  const encoded = values.map((v) => new TextEncoder().encode(v));
  const offsets = new Uint32Array(values.length + 1);
  encoded.forEach((e, i) => (offsets[i + 1] = offsets[i]! + e.byteLength));
  const blob = new Uint8Array(offsets[values.length]!);
  encoded.forEach((e, i) => blob.set(e, offsets[i]!));
  return { ids: unaligned(blob), offsets: unaligned(new Uint8Array(values.length ? offsets.buffer : new ArrayBuffer(0))) };
}

function f32(values: number[]): Uint8Array {
  return unaligned(new Uint8Array(new Float32Array(values).buffer));
}

function load(): NativeBinding {
  process.env.ENGRAM_NATIVE = 'required';
  const binding = nativeBinding();
  assert.ok(binding);
  return binding;
}

function recallParts(): NativeRecallPart[] {
  return [
    { index: 1, ...ids(['m']), lower: f32([0.5]), upper: f32([0.75]) },
    { index: 0, ...ids(['m', 'x']), lower: f32([0.25, 0.5]), upper: f32([0.5, 1]) },
    { index: 2, ids: new Uint8Array(0), offsets: new Uint8Array(3), lower: f32([]), upper: f32([]) },
  ];
}

const spreadParts = (): NativeSpreadPart[] => [
  { index: 1, ...ids(['b', 'a', 'é']), activation: f32([0.75, 0.2, 0.5]) },
  { index: 0, ...ids(['a', 'é']), activation: f32([0.3, 0.75]) },
];

const imagineParts = (): NativeImaginePart[] => [
  { index: 4, ...ids(['p', 'q']), confidence: f32([0.5, 0.75]) },
  { index: 9, ...ids(['r', 's', 't']), confidence: f32([0.1, 0.2, 0.3]) },
  { index: 2, ...ids(['p']), confidence: f32([0.5]) },
];

describe('native addon exports', () => {
  it('mergeRecall keeps the more confident copy, sorts by lower then id, reports bad partitions', () => {
    const m = load().mergeRecall(recallParts(), 10);
    assert.deepEqual(Array.from(m.partition), [1, 0]);
    assert.deepEqual(Array.from(m.row), [0, 1]);
    assert.deepEqual(Array.from(m.lower), [0.5, 0.5]);
    assert.deepEqual(Array.from(m.upper), [0.75, 1]);
    assert.deepEqual(m.rejected, [
      { partition: 2, code: 'BAD_OFFSETS', message: 'partition 2: offsets column has 3 bytes, not a multiple of 4' },
    ]);
  });

  it('mergeSpread sums an id across partitions (0.3 + 0.2 = 0.5), clamps at 1, keeps first-appearance order', () => {
    const m = load().mergeSpread(spreadParts());
    assert.deepEqual(Array.from(m.partition), [0, 0, 1]);
    assert.deepEqual(Array.from(m.row), [0, 1, 0]);
    assert.deepEqual(Array.from(m.activation), [0.5, 1, 0.75]);
    assert.deepEqual(m.rejected, []);
  });

  it('mergeImagine sorts by confidence, then partition, then row, and caps each partition', () => {
    const m = load().mergeImagine(imagineParts(), 2);
    assert.deepEqual(Array.from(m.partition), [4, 2, 4]);
    assert.deepEqual(Array.from(m.row), [1, 0, 0]);
    assert.deepEqual(Array.from(m.confidence), [0.75, 0.5, 0.5]);
    assert.deepEqual(m.rejected, [{ partition: 9, code: 'TOO_LARGE', message: 'partition 9: 3 rows > cap 2' }]);
  });

  it('a repeated partition index throws ERR_GATHER_INPUT', () => {
    const [a] = spreadParts();
    assert.throws(() => load().mergeSpread([a!, a!]), { code: 'ERR_GATHER_INPUT', message: 'two partition results have index 1' });
  });

  it('pickOne prefers the first primary copy', () => {
    assert.equal(load().pickOne([false, true, true]), 1);
    assert.equal(load().pickOne([false, false]), 0);
    assert.equal(load().pickOne([]), -1);
  });

  it('penalty: 3 of 5 responding is 0.4 unpartitioned, 0.5 partitioned', () => {
    assert.equal(load().penalty(5, 2, false), Math.fround(0.4));
    assert.equal(load().penalty(5, 2, true), 0.5);
    assert.equal(load().penalty(5, 0, true), 0);
    assert.throws(() => load().penalty(-1, 0, false), { code: 'ERR_GATHER_INPUT' });
  });

  it('applyPenalty scales in place', () => {
    const values = new Float32Array([1, 0.5, 0.3]);
    load().applyPenalty(values, 0.25);
    assert.deepEqual(Array.from(values), [0.75, 0.375, Math.fround(Math.fround(0.3) * 0.75)]);
  });

  it('mergeRecallAsync resolves to the synchronous result', async () => {
    const native = load();
    assert.deepEqual(await native.mergeRecallAsync(recallParts(), 10), native.mergeRecall(recallParts(), 10));
  });

  it('mergeSpreadAsync rejects with ERR_ABORTED for an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(load().mergeSpreadAsync(spreadParts(), 0, controller.signal), { code: 'ERR_ABORTED', name: 'AbortError' });
    const live = new AbortController();
    const m = await load().mergeSpreadAsync(spreadParts(), 0, live.signal);
    assert.deepEqual(Array.from(m.activation), [0.5, 1, 0.75]);
  });

  it('mergeImagineAsync rejects input errors instead of throwing', async () => {
    const [a] = imagineParts();
    const pending = load().mergeImagineAsync([a!, a!], 2);
    await assert.rejects(pending, { code: 'ERR_GATHER_INPUT' });
    await assert.rejects(load().mergeImagineAsync(imagineParts(), -1), { code: 'ERR_GATHER_INPUT' });
  });
});

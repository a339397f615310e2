/** The gather facade: backend choice, overrides, async + abort, error mapping, row materialization. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  chooseNative, gatherBackendSetting, gatherNative, mergeImagineAsync, mergeRecallAsync, mergeSpread, mergeSpreadAsync, totalRows,
} from '../src/gather/gather-engine.js';
import { GatherRows } from '../src/gather/gather-rows.js';
import { AbortError, ConfigError, GatherInputError, NativeUnavailableError } from '../src/errors.js';
import { bytesOf, encodeStrings } from '../src/wire/columns.js';
import { backendsUnderTest, imaginePart, recallPart, spec, spreadPart } from './gather-fixtures.js';

describe('backend choice', () => {
  it('reads ENGRAM_GATHER_BACKEND and rejects unknown values', () => {
    assert.equal(gatherBackendSetting({}), 'auto');
    assert.equal(gatherBackendSetting({ ENGRAM_GATHER_BACKEND: 'ts' }), 'ts');
    assert.equal(gatherBackendSetting({ ENGRAM_GATHER_BACKEND: 'native' }), 'native');
    assert.throws(() => gatherBackendSetting({ ENGRAM_GATHER_BACKEND: 'rust' }), ConfigError);
  });

  it('uses TS below the crossover and when forced, the addon (if any) above', () => {
    assert.equal(chooseNative(10, 300, { backend: 'auto' }), null);
    assert.equal(chooseNative(1e6, 300, { backend: 'ts' }), null);
    assert.equal(chooseNative(1e6, 300, { backend: 'auto' }), gatherNative());
  });

  it('forcing native without the addon merges is an error, not a silent fallback', () => {
    if (gatherNative()) {
      assert.equal(chooseNative(0, 300, { backend: 'native' }), gatherNative());
    } else {
      assert.throws(() => chooseNative(0, 300, { backend: 'native' }), NativeUnavailableError);
    }
  });

  it('counts rows from the offsets columns', () => {
    const parts = [spreadPart(spec(0, [['a', 0.1], ['b', 0.2]])), spreadPart(spec(1, [])), { ...spreadPart(spec(2, [])), offsets: new Uint8Array(0) }];
    assert.equal(totalRows(parts), 2);
  });
});

for (const backend of backendsUnderTest()) {
  describe(`async merges on ${backend}`, () => {
    // asyncMinRows 0 sends even tiny merges to the pool when the addon is there.
    const opts = { backend, asyncMinRows: 0 };

    it('resolve to the same result as the sync merge', async () => {
      const parts = [spreadPart(spec(1, [['x', 0.4]])), spreadPart(spec(0, [['x', 0.3], ['y', 1]]))];
      const m = await mergeSpreadAsync(parts, opts);
      assert.deepEqual(Array.from(m.activation), Array.from(mergeSpread(parts, { backend }).activation));
      const r = await mergeRecallAsync([recallPart(spec(0, [['a', 0.2, 0.3]]))], 5, opts);
      assert.deepEqual(Array.from(r.lower), [Math.fround(0.2)]);
      const i = await mergeImagineAsync([imaginePart(spec(0, [['a', 0.2], ['b', 0.9]]))], 5, opts);
      assert.deepEqual(Array.from(i.row), [1, 0]);
    });

    it('reject with AbortError when the signal is already aborted', async () => {
      const parts = [spreadPart(spec(0, [['x', 0.4]]))];
      await assert.rejects(mergeSpreadAsync(parts, { ...opts, signal: AbortSignal.abort() }), AbortError);
      await assert.rejects(mergeRecallAsync([], 1, { ...opts, signal: AbortSignal.abort() }), (e: unknown) => e instanceof AbortError && e.code === 'ERR_ABORTED');
    });

    it('reject with GatherInputError for a repeated partition index', async () => {
      const p = spreadPart(spec(2, [['x', 0.4]]));
      await assert.rejects(mergeSpreadAsync([p, p], opts), GatherInputError);
    });
  });
}

describe('native async abort', () => {
  it('rejects a queued native merge with AbortError when its signal fires', async (t) => {
    if (!gatherNative()) {
      t.skip('the addon has no gather merges');
      return;
    }
    const big = Array.from({ length: 8 }, (_, k) =>
      spreadPart(spec(k, Array.from({ length: 20_000 }, (_, j): [string, number] => [`id-${k % 2}-${j}`, 0.01]))));
    // Filling every libuv worker first keeps the next task queued, so abort finds it not yet started.
    const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const blockers = Array.from({ length: pool }, () => mergeSpreadAsync(big, { backend: 'native', asyncMinRows: 0 }));
    const controller = new AbortController();
    const queued = mergeSpreadAsync(big, { backend: 'native', asyncMinRows: 0, signal: controller.signal });
    controller.abort();
    await assert.rejects(queued, (e: unknown) => e instanceof AbortError && e.code === 'ERR_ABORTED');
    for (const m of await Promise.all(blockers)) assert.equal(m.activation.length, 40_000);
  });
});

describe('GatherRows', () => {
  it('decodes only the rows asked for, from unaligned columns of the winning partition', () => {
    const content = encodeStrings(['first', 'zwei', 'drei 😀']);
    const created = new Float64Array([1.5e12, 1.6e12, 1.7e12]);
    const shifted = (b: Uint8Array) => { const buf = new Uint8Array(b.byteLength + 3); buf.set(b, 3); return buf.subarray(3); };
    const a = { ...recallPart({ ...spec(4, [['m-1', 0.1, 0.2], ['m-2', 0.9, 0.9], ['ü-3', 0.5, 0.6]]), shift: 1 }),
      content: shifted(content.blob), contentOffsets: shifted(content.offsets), createdAt: shifted(bytesOf(created)) };
    const merged = { partition: Uint32Array.from([4, 4]), row: Uint32Array.from([1, 2]), rejected: [] };
    const rows = new GatherRows(merged, [a]);
    assert.equal(rows.length, 2);
    assert.deepEqual(rows.ids(), ['m-2', 'ü-3']);
    assert.equal(rows.string(1, 'content', 'contentOffsets'), 'drei 😀');
    assert.equal(rows.f64(0, 'createdAt'), 1.6e12);
    assert.equal(rows.f32(1, 'upper'), Math.fround(0.6));
    assert.throws(() => new GatherRows(merged, []).id(0), GatherInputError);
  });
});

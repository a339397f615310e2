/** The card's unit cases of the gather, on every backend under test (see backendsUnderTest). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeImagine, mergeRecall, mergeSpread, penalty, applyPenalty, pickOne } from '../src/gather/gather-engine.js';
import { GatherInputError } from '../src/errors.js';
import { GatherRows } from '../src/gather/gather-rows.js';
import { backendsUnderTest, encodeSpec, imaginePart, recallPart, spec, spreadPart, type Corruption } from './gather-fixtures.js';

describe('penalty', () => {
  it('is 0.4 for 3 of 5 responding, 0.5 (capped) when also partitioned', () => {
    assert.equal(penalty(5, 2, false), Math.fround(0.4));
    assert.equal(penalty(5, 2, true), 0.5);
  });
  it('is 0 when nothing is missing, clamps missing to expected, caps at 0.5', () => {
    assert.equal(penalty(5, 0, true), 0);
    assert.equal(penalty(0, 3, true), 0);
    assert.equal(penalty(4, 9, false), 0.5);
    assert.equal(penalty(10, 1, true), Math.fround(0.2));
  });
  it('rejects counts that are not u32', () => {
    assert.throws(() => penalty(5, -1, false), GatherInputError);
    assert.throws(() => penalty(2.5, 1, false), GatherInputError);
  });
});

describe('pickOne', () => {
  it('prefers the first primary, else the first copy, -1 when empty', () => {
    assert.equal(pickOne([false, true, true]), 1);
    assert.equal(pickOne([false, false]), 0);
    assert.equal(pickOne([]), -1);
  });
});

for (const backend of backendsUnderTest()) {
  const opts = { backend };
  describe(`merges on ${backend}`, () => {
    it('applyPenalty scales in place with f32 rounding, and 0 leaves values alone', () => {
      const values = Float32Array.from([1, 0.5, 0.3]);
      applyPenalty(values, Math.fround(0.4), opts);
      const factor = Math.fround(1 - Math.fround(0.4));
      assert.deepEqual(Array.from(values), [1, 0.5, 0.3].map((x) => Math.fround(Math.fround(x) * factor)));
      assert.equal(values[0], Math.fround(0.6));
      const same = Float32Array.from([0.7]);
      applyPenalty(same, 0, opts);
      assert.equal(same[0], Math.fround(0.7));
    });

    it('recall keeps the higher-confidence copy whichever partition arrives first', () => {
      const a = recallPart(spec(0, [['m1', 0.2, 0.4], ['m2', 0.9, 0.95]]));
      const b = recallPart(spec(1, [['m1', 0.7, 0.8]]));
      for (const parts of [[a, b], [b, a]]) {
        const m = mergeRecall(parts, 10, opts);
        const rows = new GatherRows(m, parts);
        assert.deepEqual(rows.ids(), ['m2', 'm1']);
        assert.deepEqual(Array.from(m.partition), [0, 1]);
        assert.deepEqual(Array.from(m.lower), [Math.fround(0.9), Math.fround(0.7)]);
        assert.deepEqual(m.rejected, []);
      }
    });

    it('recall breaks ties by upper, then lower partition index, and sorts equal lowers by id bytes', () => {
      const parts = [
        recallPart(spec(2, [['x', 0.5, 0.6], ['é', 0.5, 0.5], ['z', 0.5, 0.9]])),
        recallPart(spec(1, [['x', 0.5, 0.7], ['😀', 0.5, 0.5], ['z', 0.5, 0.9]])),
      ];
      const m = mergeRecall(parts, 3, opts);
      // 'x' < 'z' < 'é' (C3 A9) < '😀' (F0 …) in UTF-8 bytes; the cut drops the last.
      assert.deepEqual(new GatherRows(m, parts).ids(), ['x', 'z', 'é']);
      assert.deepEqual(Array.from(m.partition), [1, 1, 2]);
    });

    it('spread sums 0.3 + 0.2 = 0.5 for an id in two partitions, and clamps to 1', () => {
      const parts = [
        spreadPart(spec(1, [['b', 0.2], ['c', 0.9]])),
        spreadPart(spec(0, [['a', 0.1], ['b', 0.3], ['c', 0.6]])),
      ];
      const m = mergeSpread(parts, opts);
      assert.deepEqual(new GatherRows(m, parts).ids(), ['a', 'b', 'c']);
      // 0.3 + 0.2 summed from their f32 values in f64, then rounded once to f32.
      assert.deepEqual(Array.from(m.activation), [Math.fround(0.1), Math.fround(Math.fround(0.3) + Math.fround(0.2)), 1]);
      assert.equal(m.activation[1], 0.5);
      assert.deepEqual(Array.from(m.partition), [0, 0, 0]);
    });

    it('imagine sorts all rows by confidence desc, then partition index, then row', () => {
      const parts = [imaginePart(spec(1, [['q', 0.5], ['r', 0.9]])), imaginePart(spec(0, [['q', 0.5], ['s', 0.1]]))];
      const m = mergeImagine(parts, 5, opts);
      assert.deepEqual(Array.from(m.partition), [1, 0, 1, 0]);
      assert.deepEqual(Array.from(m.row), [1, 0, 0, 1]);
    });

    const cases: Array<[Corruption | 'TOO_LARGE', string]> = [
      ['OFFSETS_ODD', 'BAD_OFFSETS'], ['OFFSETS_FIRST', 'BAD_OFFSETS'], ['OFFSETS_DECREASING', 'BAD_OFFSETS'], ['OFFSETS_LAST', 'BAD_OFFSETS'],
      ['TOO_LARGE', 'TOO_LARGE'], ['COLUMN_LENGTH', 'COLUMN_LENGTH'], ['BAD_UTF8', 'BAD_UTF8'], ['UTF8_SPLIT', 'BAD_UTF8'],
      ['BAD_VALUE', 'BAD_VALUE'], ['LOWER_ABOVE_UPPER', 'BAD_VALUE'], ['DUPLICATE_ID', 'DUPLICATE_ID'],
    ];
    for (const [corruption, code] of cases) {
      it(`rejects ${corruption} as ${code} and still merges the other partitions`, () => {
        const good0 = spec(0, [['k', 0.4, 0.5], ['shared', 0.2, 0.3]]);
        const good2 = spec(2, [['shared', 0.3, 0.3]]);
        const bad = spec(1, [['é', 0.6, 0.7], ['shared', 0.9, 0.9], ['w', 0.1, 0.2]]);
        if (corruption !== 'TOO_LARGE') bad.corruption = corruption;
        const limit = corruption === 'TOO_LARGE' ? 2 : 10;
        const parts = [good2, bad, good0].map((s) => recallPart({ ...s, shift: 3 }));
        const m = mergeRecall(parts, limit, opts);
        assert.deepEqual(m.rejected.map((r) => [r.partition, r.code]), [[1, code]]);
        assert.match(m.rejected[0]!.message, /^partition 1\b/);
        assert.deepEqual(new GatherRows(m, parts).ids(), ['k', 'shared']);
        assert.deepEqual(Array.from(m.partition), [0, 2]);
      });
    }

    it('rejects a Spread partition over 1,000,000 rows as TOO_LARGE', () => {
      const huge = { index: 4, ids: new Uint8Array(0), offsets: new Uint8Array(4 * 1_000_002), activation: new Uint8Array(0) };
      const m = mergeSpread([huge, spreadPart(spec(0, [['a', 0.5]]))], opts);
      assert.deepEqual(m.rejected.map((r) => [r.partition, r.code]), [[4, 'TOO_LARGE']]);
      assert.equal(m.activation.length, 1);
    });

    it('reads an empty offsets column as zero rows, and rejects it with a non-empty blob', () => {
      const empty = { index: 0, ids: new Uint8Array(0), offsets: new Uint8Array(0), activation: new Uint8Array(0) };
      const stray = { index: 1, ids: new Uint8Array([97]), offsets: new Uint8Array(0), activation: new Uint8Array(0) };
      const m = mergeSpread([empty, stray], opts);
      assert.deepEqual(m.rejected.map((r) => [r.partition, r.code]), [[1, 'BAD_OFFSETS']]);
      assert.equal(m.partition.length, 0);
    });

    it('throws GatherInputError for a repeated, negative or fractional partition index', () => {
      const e = encodeSpec(spec(0, [['a', 0.5]]));
      const p = (index: number) => ({ index, ids: e.ids, offsets: e.offsets, activation: e.cols[0]! });
      assert.throws(() => mergeSpread([p(3), p(3)], opts), (err: unknown) => err instanceof GatherInputError && err.code === 'ERR_GATHER_INPUT');
      assert.throws(() => mergeSpread([p(-1)], opts), GatherInputError);
      assert.throws(() => mergeSpread([p(1.5)], opts), GatherInputError);
    });
  });
}

/**
 * The pulse merge (a Spread over f64 values, returning wire columns): the TS reference against a
 * naive model, the addon against the TS reference byte for byte (columns and rejection messages),
 * every rejection code, clamping, f64 sums in partition order, the layout of the output columns,
 * and the async merge with its abort.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AbortError, GatherInputError } from '../src/errors.js';
import { gatherNative, mergePulses, mergePulsesAsync, type GatherBackend } from '../src/gather/gather-engine.js';
import { MAX_PARTITION_ROWS, type PulseMerged, type PulsePart, type RejectionCode } from '../src/gather/gather-types.js';
import { referenceMergePulses } from '../src/gather/reference-pulses.js';
import { backendsUnderTest, canCorrupt, encodeSpec, type Corruption } from './gather-fixtures.js';

const RUNS = Number(process.env.ENGRAM_PROPERTY_RUNS ?? 150);

/** Ways to break a pulse partition: the id corruptions of gather-fixtures plus two of the f64 column. */
type PulseCorruption = Exclude<Corruption, 'COLUMN_LENGTH' | 'BAD_VALUE' | 'LOWER_ABOVE_UPPER'> | 'F32_WIDTH' | 'BAD_F64';
const CORRUPTIONS: PulseCorruption[] = [
  'OFFSETS_ODD', 'OFFSETS_FIRST', 'OFFSETS_DECREASING', 'OFFSETS_LAST', 'BAD_UTF8', 'UTF8_SPLIT', 'DUPLICATE_ID', 'F32_WIDTH', 'BAD_F64',
];
const CODE: Record<PulseCorruption, RejectionCode> = {
  OFFSETS_ODD: 'BAD_OFFSETS', OFFSETS_FIRST: 'BAD_OFFSETS', OFFSETS_DECREASING: 'BAD_OFFSETS', OFFSETS_LAST: 'BAD_OFFSETS',
  BAD_UTF8: 'BAD_UTF8', UTF8_SPLIT: 'BAD_UTF8', DUPLICATE_ID: 'DUPLICATE_ID', F32_WIDTH: 'COLUMN_LENGTH', BAD_F64: 'BAD_VALUE',
};
/** Out of [0, 1] only in f64: 1 + ε rounds to 1 in f32, -Number.MIN_VALUE to -0. */
const BAD_F64 = [NaN, Infinity, -0.25, 1.5, 1 + Number.EPSILON, -Number.MIN_VALUE];

/** One pulse partition as plain data. */
interface PulseSpec {
  index: number;
  ids: string[];
  values: number[];
  corruption?: PulseCorruption;
  /** Byte offset of every column inside its buffer (0-7), to exercise unaligned views. */
  shift?: number;
}

const pulses = (index: number, rows: Array<[string, number]>): PulseSpec => ({ index, ids: rows.map((r) => r[0]), values: rows.map((r) => r[1]) });

/** Wire bytes of a spec, with its corruption applied. */
function pulsePart(spec: PulseSpec): PulsePart {
  const c = spec.corruption;
  const idCorruption = c === 'F32_WIDTH' || c === 'BAD_F64' ? undefined : c;
  const e = encodeSpec({ index: spec.index, ids: spec.ids, values: [], corruption: idCorruption, shift: spec.shift });
  const n = spec.ids.length;
  const values = Float64Array.from(spec.values);
  if (c === 'BAD_F64') values[n - 1] = BAD_F64[n % BAD_F64.length]!;
  const bytes = c === 'F32_WIDTH' ? new Uint8Array(Float32Array.from(values).buffer) : new Uint8Array(values.buffer);
  const shift = ((spec.shift ?? 0) + 2) % 8;
  const buf = new Uint8Array(bytes.byteLength + shift + 3);
  buf.set(bytes, shift);
  return { index: spec.index, ids: e.ids, offsets: e.offsets, values: buf.subarray(shift, shift + bytes.byteLength) };
}

function canCorruptPulses(ids: string[], c: PulseCorruption): boolean {
  if (c === 'F32_WIDTH' || c === 'BAD_F64') return ids.length >= 1;
  return canCorrupt('spread', ids, c);
}

interface Decoded {
  rows: Array<[string, number]>;
  rejected: Array<[number, RejectionCode]>;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Rows of a merge, after checking its columns are well formed and `values` is 8-byte aligned. */
function decode(m: PulseMerged): Decoded {
  for (const col of [m.ids, m.offsets, m.values]) assert.ok(col instanceof Uint8Array);
  assert.equal(m.offsets.byteLength, 4 * (m.rows + 1));
  assert.equal(m.values.byteLength, 8 * m.rows);
  assert.equal(m.values.byteOffset % 8, 0, 'values start at a multiple of 8 bytes');
  const offsets = new DataView(m.offsets.buffer, m.offsets.byteOffset, m.offsets.byteLength);
  const values = new DataView(m.values.buffer, m.values.byteOffset, m.values.byteLength);
  assert.equal(offsets.getUint32(0, true), 0);
  assert.equal(offsets.getUint32(4 * m.rows, true), m.ids.byteLength);
  const rows: Array<[string, number]> = [];
  for (let i = 0; i < m.rows; i++) {
    const id = decoder.decode(m.ids.subarray(offsets.getUint32(4 * i, true), offsets.getUint32(4 * i + 4, true)));
    rows.push([id, values.getFloat64(8 * i, true)]);
  }
  return { rows, rejected: m.rejected.map((r) => [r.partition, r.code]) };
}

/** The spec read literally: Maps of strings, sums in index order, nothing clever. */
function model(specs: PulseSpec[]): Decoded {
  const sums = new Map<string, number>();
  const rejected: Array<[number, RejectionCode]> = [];
  for (const s of [...specs].sort((a, b) => a.index - b.index)) {
    if (s.corruption) {
      rejected.push([s.index, CODE[s.corruption]]);
      continue;
    }
    s.ids.forEach((id, r) => sums.set(id, sums.has(id) ? sums.get(id)! + s.values[r]! : s.values[r]!));
  }
  return { rows: [...sums].map(([id, sum]) => [id, Math.min(sum, 1)]), rejected };
}

/** Two merges are the same bytes: columns, row count and rejections with their messages. */
function assertSameBytes(a: PulseMerged, b: PulseMerged): void {
  assert.equal(a.rows, b.rows);
  assert.deepStrictEqual(a.rejected, b.rejected);
  for (const k of ['ids', 'offsets', 'values'] as const) assert.deepStrictEqual(Buffer.from(a[k]), Buffer.from(b[k]), `${k} differ`);
}

const idArb = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', 'é', '中', '😀'), maxLength: 3 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
);
// Sums f32 would round (0.1 + 0.2), ties including -0, and arbitrary doubles.
const valueArb = fc.oneof(fc.constantFrom(0, -0, 0.1, 0.2, 0.3, 0.5, 1), fc.double({ min: 0, max: 1, noNaN: true }));

const specArb = fc.uniqueArray(idArb, { maxLength: 12 }).chain((ids) => fc.record({
  ids: fc.constant(ids),
  values: fc.array(valueArb, { minLength: ids.length, maxLength: ids.length }),
  corruption: fc.option(fc.constantFrom(...CORRUPTIONS), { freq: 6, nil: undefined })
    .map((c) => (c && canCorruptPulses(ids, c) ? c : undefined)),
  shift: fc.integer({ min: 0, max: 7 }),
}));

const caseArb = fc.array(specArb, { maxLength: 24 }).chain((raw) => fc.record({
  indices: fc.uniqueArray(fc.nat(1000), { minLength: raw.length, maxLength: raw.length }),
  rotate: fc.nat(24),
}).map(({ indices, rotate }) => ({ specs: raw.map((s, i): PulseSpec => ({ ...s, index: indices[i]! })), rotate })));

/** A large case from a seed: partitions of ids drawn from a shared pool, so most ids repeat. */
function largeCase(seed: number, total: number, partitions: number): { specs: PulseSpec[]; rotate: number } {
  let state = seed >>> 0 || 1;
  const rnd = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const rows = Math.floor(total / partitions);
  const pool = Math.max(1, Math.floor(rows * 1.6));
  const specs = Array.from({ length: partitions }, (_, k): PulseSpec => {
    const start = Math.floor(rnd() * pool);
    const ids = Array.from({ length: Math.min(rows, pool) }, (_, j) => `${['', 'é', '中'][(start + j) % 3]}m${(start + j) % pool}`);
    return { index: k * 5 + 2, ids, values: ids.map(() => (rnd() < 0.3 ? 0.1 : rnd() * 0.4)), shift: k % 8 };
  });
  const label = `largeCase(${seed}, ${total}, ${partitions})`;
  return { specs, rotate: seed % 5, [fc.toStringMethod]: () => label } as { specs: PulseSpec[]; rotate: number };
}

const largeArb = fc.record({ seed: fc.nat(), total: fc.constantFrom(1_000, 20_000, 100_000), partitions: fc.integer({ min: 1, max: 24 }) })
  .map(({ seed, total, partitions }) => largeCase(seed, total, partitions));

const rotated = <T>(xs: T[], by: number) => (xs.length === 0 ? xs : [...xs.slice(by % xs.length), ...xs.slice(0, by % xs.length)]);
const partsOf = (c: { specs: PulseSpec[]; rotate: number }) => rotated(c.specs.map(pulsePart), c.rotate);

describe('pulse merge: TS reference vs the naive model', () => {
  it('small random inputs, corruptions and any input order', () => {
    fc.assert(fc.property(caseArb, (c) => {
      assert.deepStrictEqual(decode(referenceMergePulses(partsOf(c))), model(c.specs));
    }), { numRuns: RUNS });
  });
  it('large inputs (up to 24 partitions, 100,000 rows)', () => {
    fc.assert(fc.property(largeArb, (c) => {
      assert.deepStrictEqual(decode(referenceMergePulses(partsOf(c))), model(c.specs));
    }), { numRuns: 4, examples: [[largeCase(777, 100_000, 10)]] });
  });
});

describe('pulse merge: native vs TS reference (parity)', () => {
  const native = backendsUnderTest().includes('native');
  it('identical bytes on small random inputs, corruptions and any input order', (t) => {
    if (!native) {
      t.skip('no native merges');
      return;
    }
    fc.assert(fc.property(caseArb, (c) => {
      assertSameBytes(mergePulses(partsOf(c), { backend: 'native' }), referenceMergePulses(c.specs.map(pulsePart)));
    }), { numRuns: RUNS });
  });
  it('identical bytes on large inputs', (t) => {
    if (!native) {
      t.skip('no native merges');
      return;
    }
    fc.assert(fc.property(largeArb, (c) => {
      assertSameBytes(mergePulses(partsOf(c), { backend: 'native' }), referenceMergePulses(c.specs.map(pulsePart)));
    }), { numRuns: 4, examples: [[largeCase(4242, 100_000, 10)]] });
  });
});

for (const backend of backendsUnderTest()) {
  const opts = { backend };
  describe(`mergePulses on ${backend}`, () => {
    it('sums in f64 as JS does, in partition index order whatever the input order', () => {
      const m = mergePulses([pulsePart(pulses(2, [['a', 0.3]])), pulsePart(pulses(0, [['a', 0.1], ['b', 0.1]])), pulsePart(pulses(1, [['a', 0.2]]))], opts);
      // (0.1 + 0.2) + 0.3 = 0.6000000000000001, where 0.1 + (0.2 + 0.3) = 0.6; an f32 value would be 0.6000000238418579.
      assert.deepStrictEqual(decode(m).rows, [['a', 0.1 + 0.2 + 0.3], ['b', 0.1]]);
      assert.notEqual(decode(m).rows[0]![1], 0.6);
      const two = mergePulses([pulsePart(pulses(0, [['x', 0.1]])), pulsePart(pulses(1, [['x', 0.2]]))], opts);
      assert.equal(decode(two).rows[0]![1], 0.30000000000000004);
    });

    it('clamps sums to 1 and keeps ids in order of first appearance', () => {
      const m = mergePulses([
        pulsePart(pulses(1, [['c', 0.5], ['é', 0.75], ['', 0.25]])),
        pulsePart(pulses(0, [['é', 0.5], ['d', 1]])),
      ], opts);
      assert.deepStrictEqual(decode(m).rows, [['é', 1], ['d', 1], ['c', 0.5], ['', 0.25]]);
      assert.equal(m.rows, 4);
    });

    it('returns the columns ready to send: values viewable as a Float64Array, offsets from 0', () => {
      const m = mergePulses([pulsePart({ ...pulses(0, [['m1', 0.125], ['memory-two', 1 / 3]]), shift: 5 })], opts);
      assert.deepEqual(Array.from(new Float64Array(m.values.buffer, m.values.byteOffset, m.rows)), [0.125, 1 / 3]);
      assert.deepEqual(Array.from(new Uint32Array(m.offsets.buffer, m.offsets.byteOffset, m.rows + 1)), [0, 2, 12]);
      assert.equal(Buffer.from(m.ids).toString(), 'm1memory-two');
    });

    it('gives empty columns (one 0 offset) for no parts and for only rejected parts', () => {
      for (const parts of [[], [pulsePart({ ...pulses(3, [['a', 0.5]]), corruption: 'BAD_F64' })]]) {
        const m = mergePulses(parts, opts);
        assert.equal(m.rows, 0);
        assert.deepEqual([m.ids.byteLength, m.values.byteLength], [0, 0]);
        assert.deepEqual(Buffer.from(m.offsets), Buffer.alloc(4));
      }
    });

    for (const corruption of [...CORRUPTIONS, 'TOO_LARGE' as const]) {
      const code = corruption === 'TOO_LARGE' ? 'TOO_LARGE' : CODE[corruption];
      it(`rejects ${corruption} as ${code} and still merges the other partitions`, () => {
        const bad = corruption === 'TOO_LARGE'
          ? { index: 1, ids: new Uint8Array(0), offsets: new Uint8Array(4 * (MAX_PARTITION_ROWS + 2)), values: new Uint8Array(0) }
          : pulsePart({ ...pulses(1, [['é', 0.5], ['shared', 0.25], ['w', 0.125]]), corruption, shift: 3 });
        const m = mergePulses([pulsePart(pulses(2, [['shared', 0.5]])), bad, pulsePart(pulses(0, [['k', 0.375], ['shared', 0.25]]))], opts);
        assert.deepStrictEqual(decode(m), { rows: [['k', 0.375], ['shared', 0.75]], rejected: [[1, code]] });
        assert.match(m.rejected[0]!.message, /^partition 1: /);
      });
    }

    it('names the f64 problem: 8 bytes a row, values out of [0, 1] only in f64', () => {
      const m = mergePulses([
        pulsePart({ ...pulses(0, [['a', 0.5], ['b', 0.5]]), corruption: 'F32_WIDTH' }),
        pulsePart({ ...pulses(1, [['a', 0.5], ['b', 0.5]]), corruption: 'BAD_F64' }),
        pulsePart({ ...pulses(2, [['a', 0.5]]), corruption: 'BAD_F64' }),
        pulsePart({ ...pulses(3, [['a', 0.5], ['b', 0.5], ['a', 0.5]]) }),
      ], opts);
      assert.deepStrictEqual(m.rejected.map((r) => r.message), [
        'partition 0: values column has 8 bytes, expected 16',
        'partition 1: values[1]=-0.25 is not in [0, 1]',
        'partition 2: values[0]=Infinity is not in [0, 1]',
        'partition 3: row 2 repeats id "a"',
      ]);
      const edge = mergePulses([0, 1].map((i) => pulsePart(pulses(i, [['a', [1 + Number.EPSILON, -Number.MIN_VALUE][i]!]]))), opts);
      assert.deepStrictEqual(edge.rejected.map((r) => r.message), [
        'partition 0: values[0]=1.0000000000000002 is not in [0, 1]',
        'partition 1: values[0]=-5e-324 is not in [0, 1]',
      ]);
    });

    it('drops a partition that repeats an id entirely, and keeps a lone -0 as -0', () => {
      const m = mergePulses([
        pulsePart(pulses(0, [['z', -0]])),
        pulsePart(pulses(1, [['x', 0.5], ['z', 0.25], ['x', 0.5]])),
        pulsePart(pulses(2, [['x', 0.25]])),
      ], opts);
      assert.deepStrictEqual(decode(m), { rows: [['z', -0], ['x', 0.25]], rejected: [[1, 'DUPLICATE_ID']] });
    });

    it('throws GatherInputError for a repeated, negative or fractional partition index', () => {
      const p = (index: number) => pulsePart(pulses(index, [['a', 0.5]]));
      assert.throws(() => mergePulses([p(3), p(3)], opts), { name: 'GatherInputError', code: 'ERR_GATHER_INPUT', message: 'two partition results have index 3' });
      assert.throws(() => mergePulses([p(-1)], opts), GatherInputError);
      assert.throws(() => mergePulses([p(1.5)], opts), GatherInputError);
    });
  });

  describe(`mergePulsesAsync on ${backend}`, () => {
    // asyncMinRows 0 sends even tiny merges to the pool when the addon is there.
    const pooled = { backend, asyncMinRows: 0 };
    const parts = () => [pulsePart(pulses(1, [['x', 0.2], ['y', 0.5]])), pulsePart(pulses(0, [['x', 0.1]]))];

    it('resolves to the bytes of the sync merge', async () => {
      assertSameBytes(await mergePulsesAsync(parts(), pooled), mergePulses(parts(), { backend }));
    });

    it('rejects with AbortError when the signal is already aborted', async () => {
      await assert.rejects(mergePulsesAsync(parts(), { ...pooled, signal: AbortSignal.abort() }), (e: unknown) => e instanceof AbortError && e.code === 'ERR_ABORTED');
    });

    it('rejects with GatherInputError for a repeated partition index', async () => {
      const p = pulsePart(pulses(2, [['x', 0.4]]));
      await assert.rejects(mergePulsesAsync([p, p], pooled), GatherInputError);
    });
  });
}

describe('native pulse merge on the thread pool', () => {
  const big = () => Array.from({ length: 8 }, (_, k) =>
    pulsePart({ index: k, ids: Array.from({ length: 20_000 }, (_, j) => `id-${k % 2}-${j}`), values: new Array(20_000).fill(0.1) }));

  it('rejects a queued merge with AbortError when its signal fires, and the others still finish', async (t) => {
    if (!gatherNative()) {
      t.skip('the addon has no gather merges');
      return;
    }
    const opts = { backend: 'native' as GatherBackend, asyncMinRows: 0 };
    // Filling every libuv worker first keeps the next task queued, so abort finds it not yet started.
    const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const blockers = Array.from({ length: pool }, () => mergePulsesAsync(big(), opts));
    const controller = new AbortController();
    const queued = mergePulsesAsync(big(), { ...opts, signal: controller.signal });
    controller.abort();
    await assert.rejects(queued, (e: unknown) => e instanceof AbortError && e.code === 'ERR_ABORTED');
    for (const m of await Promise.all(blockers)) {
      assert.equal(m.rows, 40_000);
      assert.equal(new Float64Array(m.values.buffer, m.values.byteOffset, m.rows)[0], 0.1 + 0.1 + 0.1 + 0.1);
    }
  });

  it('the addon itself: an aborted signal rejects with code ERR_ABORTED, input errors reject with ERR_GATHER_INPUT', async (t) => {
    const native = gatherNative();
    if (!native) {
      t.skip('the addon has no gather merges');
      return;
    }
    const p = pulsePart(pulses(0, [['a', 0.5]]));
    await assert.rejects(native.mergePulsesAsync([p], AbortSignal.abort()), { code: 'ERR_ABORTED', name: 'AbortError' });
    await assert.rejects(native.mergePulsesAsync([p, p]), { code: 'ERR_GATHER_INPUT' });
    assert.throws(() => native.mergePulses([{ ...p, index: -1 }]), { code: 'ERR_GATHER_INPUT', message: 'partition index must be an integer in [0, 4294967295] (got -1)' });
  });
});

/**
 * Property tests of the gather. The TS reference is checked against a naive model (Maps of
 * strings, full sorts) always; the native merges are checked against the TS reference, bit for
 * bit, when the addon has them. ENGRAM_GATHER_BACKEND=ts compares only TS with the model;
 * ENGRAM_NATIVE=required makes a missing addon a failure instead of a note.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gatherNative, mergeImagine, mergeRecall, mergeSpread, type GatherBackend } from '../src/gather/gather-engine.js';
import type { MergedRows } from '../src/gather/gather-types.js';
import { referenceMergeImagine } from '../src/gather/reference-imagine.js';
import { referenceApplyPenalty, referencePenalty, referencePickOne } from '../src/gather/reference-penalty.js';
import { referenceMergeRecall } from '../src/gather/reference-recall.js';
import { referenceMergeSpread } from '../src/gather/reference-spread.js';
import {
  assertMatchesModel, assertSameMerge, backendsUnderTest, canCorrupt, COLUMNS, CORRUPTIONS, imaginePart, modelImagine,
  modelRecall, modelSpread, recallPart, spreadPart, type Corruption, type Kind, type Spec,
} from './gather-fixtures.js';

const SMALL_RUNS = Number(process.env.ENGRAM_PROPERTY_RUNS ?? 150);
const LARGE_RUNS = 4;

const idArb = fc.oneof(
  // A tiny alphabet makes ids repeat across partitions; it mixes 1-, 2-, 3- and 4-byte UTF-8.
  { weight: 3, arbitrary: fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', '\u007f', '\u0080', 'é', '中', '😀', '𝄞'), maxLength: 3 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
);
// Ties (0, -0, 0.5, 1) are common on purpose: they exercise every tie-break.
const valueArb = fc.oneof(fc.constantFrom(0, -0, 0.25, 0.5, 1), fc.float({ min: 0, max: 1, noNaN: true }));

interface Case {
  specs: Spec[];
  cap: number;
  /** Input order: the specs rotated by this much. */
  rotate: number;
}

function specArb(kind: Kind, maxRows: number): fc.Arbitrary<Omit<Spec, 'index'>> {
  const width = COLUMNS[kind].length;
  return fc.uniqueArray(idArb, { maxLength: maxRows }).chain((ids) =>
    fc.record({
      ids: fc.constant(ids),
      values: fc.array(fc.array(valueArb, { minLength: width, maxLength: width }), { minLength: ids.length, maxLength: ids.length })
        .map((rows) => Array.from({ length: width }, (_, c) => rows.map((r) => (kind === 'recall' ? [...r].sort((a, b) => a - b) : r)[c]!))),
      corruption: fc.option(fc.constantFrom(...CORRUPTIONS), { freq: 6, nil: undefined })
        .map((c: Corruption | undefined) => (c && canCorrupt(kind, ids, c) ? c : undefined)),
      shift: fc.integer({ min: 0, max: 7 }),
    }),
  );
}

function caseArb(kind: Kind): fc.Arbitrary<Case> {
  return fc.array(specArb(kind, 12), { maxLength: 32 }).chain((raw) =>
    fc.record({
      indices: fc.uniqueArray(fc.nat(1000), { minLength: raw.length, maxLength: raw.length }),
      cap: fc.integer({ min: 0, max: 14 }),
      rotate: fc.nat(32),
    }).map(({ indices, cap, rotate }) => ({ specs: raw.map((s, i) => ({ ...s, index: indices[i]! })), cap, rotate })),
  );
}

/** A large case from a seed: up to 32 partitions, up to 100,000 rows in all, ids overlapping. */
function largeCase(kind: Kind, seed: number, total: number, partitions: number): Case {
  let state = seed >>> 0 || 1;
  const rnd = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const rows = Math.floor(total / partitions);
  const pool = Math.max(1, Math.floor(rows * 1.6));
  const prefixes = ['', 'é', '中', '😀'];
  const specs: Spec[] = [];
  for (let k = 0; k < partitions; k++) {
    const start = Math.floor(rnd() * pool);
    const ids = Array.from({ length: Math.min(rows, pool) }, (_, j) => {
      const n = (start + j) % pool;
      return `${prefixes[n % 4]}m${n}`;
    });
    // Quantized values make ties frequent at this size too.
    const value = () => (rnd() < 0.5 ? Math.round(rnd() * 64) / 64 : Math.fround(rnd()));
    const values = COLUMNS[kind].map(() => ids.map(value));
    if (kind === 'recall') for (let i = 0; i < ids.length; i++) if (values[0]![i]! > values[1]![i]!) [values[0]![i], values[1]![i]] = [values[1]![i]!, values[0]![i]!];
    specs.push({ index: k * 3 + 1, ids, values, shift: k % 8 });
  }
  // Counterexamples print as the call that rebuilds them, not as 100,000 rows.
  const label = `largeCase(${JSON.stringify(kind)}, ${seed}, ${total}, ${partitions})`;
  return { specs, cap: kind === 'spread' ? 0 : rows, rotate: seed % 7, [fc.toStringMethod]: () => label } as Case;
}

const largeArb = (kind: Kind) =>
  fc.record({ seed: fc.nat(), total: fc.constantFrom(0, 1_000, 20_000, 100_000), partitions: fc.integer({ min: 1, max: 32 }) })
    .map(({ seed, total, partitions }) => largeCase(kind, seed, total, partitions));

const rotated = <T>(xs: T[], by: number) => (xs.length === 0 ? xs : [...xs.slice(by % xs.length), ...xs.slice(0, by % xs.length)]);

/** Merges a case on one backend (`ts` = the reference called directly). */
function run(kind: Kind, c: Case, backend: GatherBackend | 'reference', order = 0): MergedRows {
  const opts = { backend: backend === 'reference' ? ('ts' as const) : backend };
  switch (kind) {
    case 'recall': {
      const parts = rotated(c.specs.map(recallPart), order);
      return backend === 'reference' ? referenceMergeRecall(parts, c.cap) : mergeRecall(parts, c.cap, opts);
    }
    case 'spread': {
      const parts = rotated(c.specs.map(spreadPart), order);
      return backend === 'reference' ? referenceMergeSpread(parts) : mergeSpread(parts, opts);
    }
    case 'imagine': {
      const parts = rotated(c.specs.map(imaginePart), order);
      return backend === 'reference' ? referenceMergeImagine(parts, c.cap) : mergeImagine(parts, c.cap, opts);
    }
  }
}

function model(kind: Kind, c: Case) {
  if (kind === 'recall') return modelRecall(c.specs, c.cap);
  if (kind === 'spread') return modelSpread(c.specs);
  return modelImagine(c.specs, c.cap);
}

const KINDS: Kind[] = ['recall', 'spread', 'imagine'];

describe('TS reference vs the naive model', () => {
  for (const kind of KINDS) {
    it(`${kind}: small random inputs, corruptions and any input order`, () => {
      fc.assert(fc.property(caseArb(kind), (c) => {
        const ts = run(kind, c, 'reference');
        assertMatchesModel(ts, COLUMNS[kind], model(kind, c));
        assertSameMerge(run(kind, c, 'reference', c.rotate), ts, COLUMNS[kind]);
      }), { numRuns: SMALL_RUNS });
    });
    it(`${kind}: large inputs (up to 32 partitions, 100,000 rows)`, () => {
      fc.assert(fc.property(largeArb(kind), (c) => {
        assertMatchesModel(run(kind, c, 'reference', c.rotate), COLUMNS[kind], model(kind, c));
      }), { numRuns: LARGE_RUNS, examples: [[largeCase(kind, 12345, 100_000, 32)]] });
    });
  }
  it('penalty, applyPenalty and pickOne follow their formulas', () => {
    fc.assert(fc.property(fc.nat(64), fc.nat(80), fc.boolean(), (expected, missing, partitioned) => {
      const want = missing === 0 || expected === 0 ? 0 : Math.fround(Math.min(Math.min(missing, expected) / expected + (partitioned ? 0.1 : 0), 0.5));
      assert.ok(Object.is(referencePenalty(expected, missing, partitioned), want));
    }));
    fc.assert(fc.property(fc.array(valueArb, { maxLength: 50 }), fc.float({ min: 0, max: 0.5, noNaN: true }), (vals, p) => {
      const values = Float32Array.from(vals);
      referenceApplyPenalty(values, p);
      const factor = Math.fround(1 - Math.fround(p));
      assert.deepEqual(Array.from(values), vals.map((v) => (p === 0 ? Math.fround(v) : Math.fround(Math.fround(v) * factor))));
    }));
    fc.assert(fc.property(fc.array(fc.boolean(), { maxLength: 8 }), (primary) => {
      const first = primary.findIndex((x) => x);
      assert.equal(referencePickOne(primary), first >= 0 ? first : primary.length > 0 ? 0 : -1);
    }));
  });
});

describe('native vs TS reference (parity)', () => {
  const candidate = backendsUnderTest().at(-1)!;
  for (const kind of KINDS) {
    it(`${kind}: identical on small random inputs, corruptions and any input order`, (t) => {
      if (candidate === 'ts') t.diagnostic(`no native merges (${reason()}): compared the TS reference with the naive model`);
      fc.assert(fc.property(caseArb(kind), (c) => {
        const ts = run(kind, c, 'reference');
        if (candidate === 'ts') assertMatchesModel(run(kind, c, 'ts', c.rotate), COLUMNS[kind], model(kind, c));
        else assertSameMerge(run(kind, c, 'native', c.rotate), ts, COLUMNS[kind]);
      }), { numRuns: SMALL_RUNS });
    });
    it(`${kind}: identical on large inputs`, (t) => {
      if (candidate === 'ts') t.diagnostic('compared the TS reference with the naive model');
      fc.assert(fc.property(largeArb(kind), (c) => {
        if (candidate === 'ts') assertMatchesModel(run(kind, c, 'ts'), COLUMNS[kind], model(kind, c));
        else assertSameMerge(run(kind, c, 'native', c.rotate), run(kind, c, 'reference'), COLUMNS[kind]);
      }), { numRuns: LARGE_RUNS, examples: [[largeCase(kind, 54321, 100_000, 32)]] });
    });
  }
  it('penalty, applyPenalty and pickOne: identical bits', (t) => {
    const native = candidate === 'native' ? gatherNative() : null;
    if (!native) {
      t.diagnostic('no native merges: penalty formulas are checked against the model above');
      return;
    }
    fc.assert(fc.property(fc.nat(64), fc.nat(80), fc.boolean(), (e, m, p) => {
      assert.ok(Object.is(native.penalty(e, m, p), referencePenalty(e, m, p)), `penalty(${e}, ${m}, ${p})`);
    }));
    fc.assert(fc.property(fc.array(valueArb, { maxLength: 50 }), fc.float({ min: 0, max: 1, noNaN: true }), (vals, p) => {
      const a = Float32Array.from(vals);
      const b = Float32Array.from(vals);
      native.applyPenalty(a, p);
      referenceApplyPenalty(b, p);
      assert.deepEqual(Buffer.from(a.buffer), Buffer.from(b.buffer));
    }));
    fc.assert(fc.property(fc.array(fc.boolean(), { maxLength: 8 }), (primary) => {
      assert.equal(native.pickOne(primary), referencePickOne(primary));
    }));
  });
});

function reason(): string {
  if (process.env.ENGRAM_GATHER_BACKEND === 'ts') return 'ENGRAM_GATHER_BACKEND=ts';
  return 'addon not loaded or without gather merges';
}

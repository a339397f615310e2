/** Copy ranking (C3 / Elasticsearch ARS) and the hedge policy, as pure units. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CopyRanker, LOCAL_PREFERENCE } from '../src/query/copy-ranking.js';
import { DEFAULT_HEDGE_BUDGET, HEDGE_MAX_TOKENS, HEDGE_MIN_SAMPLES, Hedger, formatHedgePolicy, parseHedgeOptions } from '../src/query/hedging.js';
import { InvalidArgumentError } from '../src/errors.js';

const copy = (node: string, local = false) => ({ node, local });
const answer = (r: CopyRanker, node: string, responseMs: number, serviceMs = responseMs / 2, queue = 0) => r.begin(node)({ responseMs, serviceMs, queue });

describe('copy ranking', () => {
  it('orders measured copies by Ψ = (R − S) + q̂³·S, lower first', () => {
    const r = new CopyRanker();
    answer(r, 'a', 10, 5);
    answer(r, 'b', 2, 1);
    answer(r, 'c', 4, 1, 3);
    // a: 5 + 1·5 = 10; b: 1 + 1·1 = 2; c: 3 + 4³·1 = 67.
    assert.deepEqual([r.rank('a'), r.rank('b'), r.rank('c')], [10, 2, 67]);
    assert.deepEqual(r.order([copy('a'), copy('b'), copy('c')]).map((c) => c.node), ['b', 'a', 'c']);
  });

  it('counts calls outstanding in the queue term while they run', () => {
    const r = new CopyRanker();
    answer(r, 'a', 2, 1);
    const before = r.rank('a')!;
    const end = r.begin('a');
    assert.ok(r.rank('a')! > before * 4, 'one call in flight multiplies the service term by 2³');
    end();
    assert.equal(r.rank('a'), before);
  });

  it('tries an unmeasured copy first, and keeps this node\'s own copy first unless another ranks LOCAL_PREFERENCE× better', () => {
    const r = new CopyRanker();
    answer(r, 'remote', 2, 1);
    assert.deepEqual(r.order([copy('remote'), copy('fresh')]).map((c) => c.node), ['fresh', 'remote']);
    assert.deepEqual(r.order([copy('remote'), copy('self', true)]).map((c) => c.node), ['self', 'remote'], 'unmeasured local first');
    answer(r, 'self', 3, 3);
    assert.ok(r.rank('self')! <= r.rank('remote')! * LOCAL_PREFERENCE);
    assert.deepEqual(r.order([copy('remote'), copy('self', true)]).map((c) => c.node), ['self', 'remote']);
    for (let i = 0; i < 10; i++) answer(r, 'self', 40, 40, 2);
    assert.deepEqual(r.order([copy('remote'), copy('self', true)]).map((c) => c.node), ['remote', 'self'], 'an overloaded local copy goes behind');
  });

  it('a failed or cancelled call counts as an answer that slow; a passed-over copy drifts back toward the best', () => {
    const r = new CopyRanker();
    answer(r, 'a', 2, 1);
    answer(r, 'b', 2, 1);
    r.penalise('b', 500);
    assert.ok(r.rank('b')! > 50 * r.rank('a')!, `${r.rank('b')} vs ${r.rank('a')}`);
    const start = r.rank('b')!;
    let rounds = 0;
    while (r.order([copy('a'), copy('b')])[0]!.node === 'a' && rounds < 1_000) rounds++;
    assert.ok(rounds > 10 && rounds < 1_000, `b tried again after ${rounds} queries (rank ${start} → ${r.rank('b')})`);
  });
});

describe('hedge policy', () => {
  it('parses and validates its options once; an explicit 0 budget means none', () => {
    assert.deepEqual(parseHedgeOptions(), { enabled: true, budget: DEFAULT_HEDGE_BUDGET, minDelayMs: 1, maxDelayMs: 250, quantile: 0.975 });
    assert.equal(parseHedgeOptions({ budget: 0 }).budget, 0);
    // Ordinary variance should spend half the budget: the quantile follows it unless given.
    assert.equal(parseHedgeOptions({ budget: 0.1 }).quantile, 0.95);
    assert.equal(parseHedgeOptions({ budget: 0.1, quantile: 0.9 }).quantile, 0.9);
    for (const bad of [{ budget: 2 }, { budget: -0.1 }, { quantile: 1 }, { minDelayMs: 5, maxDelayMs: 1 }, { minDelayMs: Number.NaN }]) {
      assert.throws(() => parseHedgeOptions(bad), InvalidArgumentError, JSON.stringify(bad));
    }
    assert.equal(formatHedgePolicy(parseHedgeOptions()), 'hedge after p97.5 in [1, 250] ms, budget 5%');
    assert.equal(formatHedgePolicy(parseHedgeOptions({ budget: 0 })), 'no hedging');
  });

  it('waits for enough samples, then hedges after the p95 of recent answers, within its bounds', () => {
    const h = new Hedger({ maxDelayMs: 50 });
    for (let i = 0; i < HEDGE_MIN_SAMPLES - 1; i++) h.record('recall', 1 + (i % 10));
    assert.equal(h.delayMs('recall'), undefined, 'too few samples');
    for (let i = 0; i < 100; i++) h.record('recall', i < 95 ? 2 : 30);
    assert.ok(h.delayMs('recall')! >= 2 && h.delayMs('recall')! <= 30);
    for (let i = 0; i < 600; i++) h.record('recall', 400);
    assert.equal(h.delayMs('recall'), 50, 'capped at maxDelayMs');
    assert.equal(h.delayMs('spread'), undefined, 'per query kind');
    for (let i = 0; i < 50; i++) h.record('consolidate', 1);
    assert.equal(h.delayMs('consolidate'), undefined, 'a consolidation writes: never hedged');
  });

  it('spends at most its budget: one hedge per 1/budget first calls, one saved up at most', () => {
    const h = new Hedger({ budget: 0.05 });
    assert.equal(h.take(), false);
    for (let i = 0; i < 1_000; i++) h.earn();
    let taken = 0;
    while (h.take()) taken++;
    assert.equal(taken, HEDGE_MAX_TOKENS);
    // Hedging whenever it may, over 2,000 first calls: at most 5% of them + the one saved.
    let hedges = 0;
    for (let i = 0; i < 2_000; i++) {
      h.earn();
      if (h.take()) hedges++;
    }
    assert.ok(hedges <= 0.05 * 2_000 + HEDGE_MAX_TOKENS && hedges >= 0.05 * 2_000 - 1, `${hedges} hedges`);
  });
});

/**
 * The chaos run's spread checks (bench/chaos/spreads.ts) on made-up histories: each check fails on
 * the answer it exists to catch, and passes the answers a fault may legitimately give.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkSpreads, type SpreadOracle } from '../bench/chaos/spreads.js';
import type { HistoryEvent, Operation, SpreadSeen } from '../bench/chaos/history.js';

const oracle: SpreadOracle = {
  spaces: ['g-a', 'g-b'],
  hops: 2,
  decay: 0.15,
  threshold: 0.02,
  queries: [{ seeds: ['g-a/x'], want: new Map([['g-a/x', 1], ['g-b/y', Math.fround(0.5)]]) }],
};

let op = 0;
function spread(mode: 'leader' | 'any', seen: Partial<SpreadSeen>): Operation {
  const invoke: HistoryEvent = { op: op++, type: 'invoke', f: 'spread', process: 's0', node: 'n1', space: 'g-a,g-b', time: 0, ids: ['0'], mode };
  const full: SpreadSeen = { full: true, penalty: 0, partitioned: false, expected: 2, answered: ['g-a', 'g-b'], rows: [['g-a/x', 1], ['g-b/y', Math.fround(0.5)]] };
  return { invoke, done: { ...invoke, type: 'ok', time: 1, spread: { ...full, ...seen } } };
}

function judge(ops: Operation[]) {
  const found: string[] = [];
  const stats = checkSpreads(ops, oracle, (check, detail) => found.push(`${check}: ${detail}`));
  return { found, stats };
}

describe('chaos spread checks', () => {
  it('pass the union graph\'s answer, a partial answer within it, and a stale any answer (counted)', () => {
    const penalty = Math.fround(0.5);
    const { found, stats } = judge([
      spread('leader', {}),
      spread('any', { full: false, penalty, answered: ['g-a'], rows: [['g-a/x', Math.fround(1 - penalty)]] }),
      spread('any', { rows: [['g-a/x', 1]] }),
    ]);
    assert.deepEqual(found, []);
    assert.deepEqual([stats.ok, stats.full, stats.leaderFull, stats.partial, stats.staleAny], [3, 2, 1, 1, 1]);
  });

  it('a full leader answer that misses a memory or differs', () => {
    assert.match(judge([spread('leader', { rows: [['g-a/x', 1]] })]).found.join(), /equals the union graph.*missing g-b\/y/);
    assert.match(judge([spread('leader', { rows: [['g-a/x', 1], ['g-b/y', 0.49]] })]).found.join(), /equals the union graph/);
  });

  it('an answer with more than the union graph, from a missing space, or with the wrong penalty', () => {
    assert.match(judge([spread('any', { rows: [['g-a/x', 1], ['g-b/y', 0.5], ['g-b/z', 0.1]] })]).found.join(), /g-b\/z .* not reached/);
    assert.match(judge([spread('any', { rows: [['g-a/x', 1], ['g-b/y', 0.6]] })]).found.join(), /g-b\/y is 0\.6, above/);
    const penalty = Math.fround(0.5);
    assert.match(judge([spread('leader', { full: false, penalty, answered: ['g-a'], rows: [['g-a/x', 0.5], ['g-b/y', 0.25]] })]).found.join(), /g-b\/y is from a space that did not answer/);
    assert.match(judge([spread('leader', { full: false, penalty: 0, answered: ['g-a'], rows: [['g-a/x', 1]] })]).found.join(), /penalty 0 for 1 of 2 spaces missing/);
  });
});

/** The planner over a StaticClusterView: strategies, copy order, down members, timeouts, errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StaticClusterView } from '../src/cluster/cluster-view.js';
import type { Member, MemberState } from '../src/cluster/cluster-view.js';
import { InvalidArgumentError, SpaceNotFoundError } from '../src/errors.js';
import { DEFAULT_MULTI_PARTITION_TIMEOUT_MS, DEFAULT_SINGLE_PARTITION_TIMEOUT_MS, QueryPlanner } from '../src/query/planner.js';

const member = (id: string, state: MemberState = 'alive'): Member => ({ id, grpcAddress: `${id}:1`, gossipAddress: `${id}:2`, state, incarnation: 1 });

function view(self: string, states: Record<string, MemberState> = {}, partitioned = false) {
  return new StaticClusterView({
    self,
    members: ['n1', 'n2', 'n3'].map((id) => member(id, states[id] ?? 'alive')),
    assignments: [
      { space: 'space1', primary: 'n1', replicas: ['n2'], dimension: 8, version: 1 },
      { space: 'space2', primary: 'n2', replicas: ['n3'], dimension: 8, version: 2 },
      { space: 'space3', primary: 'n3', replicas: [], dimension: 8, version: 3 },
    ],
    partitioned,
  });
}
const recall = (space: string) => ({ kind: 'recall' as const, space, cue: { text: 'test' }, limit: 10 });
const imagine = (spaces: string[]) => ({ kind: 'imagine' as const, spaces, cue: { text: 'test' } });

describe('query planner', () => {
  it('plans Recall as one partition, primary first then replicas, 500 ms', () => {
    const plan = new QueryPlanner(view('n3')).plan(recall('space1'));
    assert.equal(plan.strategy, 'single');
    assert.equal(plan.partitions.length, 1);
    assert.equal(plan.timeoutMs, DEFAULT_SINGLE_PARTITION_TIMEOUT_MS);
    assert.deepEqual(plan.partitions[0]!.copies.map((c) => [c.node, c.role, c.local]), [['n1', 'primary', false], ['n2', 'replica', false]]);
  });

  it('plans Imagine as one partition per space, 5 s, expected = partitions not nodes', () => {
    const plan = new QueryPlanner(view('n1')).plan(imagine(['space1', 'space2', 'space3']));
    assert.equal(plan.strategy, 'multi');
    assert.equal(plan.timeoutMs, DEFAULT_MULTI_PARTITION_TIMEOUT_MS);
    assert.deepEqual(plan.partitions.map((p) => [p.index, p.partition]), [[0, 'space1'], [1, 'space2'], [2, 'space3']]);
    // Five copies over three partitions still counts three partitions.
    assert.equal(plan.partitions.reduce((n, p) => n + p.copies.length, 0), 5);
  });

  it('answers a partition held here in-process first', () => {
    const plan = new QueryPlanner(view('n2')).plan(recall('space1'));
    assert.deepEqual(plan.partitions[0]!.copies.map((c) => [c.node, c.local]), [['n2', true], ['n1', false]]);
  });

  it('skips copies on members known down; with none left the partition has no copy and says why', () => {
    const p1 = new QueryPlanner(view('n3', { n1: 'down' })).plan(recall('space1'));
    assert.deepEqual(p1.partitions[0]!.copies.map((c) => c.node), ['n2']);
    const p2 = new QueryPlanner(view('n1', { n3: 'down' })).plan(recall('space3'));
    assert.deepEqual(p2.partitions[0]!.copies, []);
    assert.match(p2.partitions[0]!.reason, /n3 is down/);
  });

  it('when partitioned, tries live replicas before a suspect primary', () => {
    const normal = new QueryPlanner(view('n3', { n1: 'suspect' })).plan(recall('space1'));
    assert.deepEqual(normal.partitions[0]!.copies.map((c) => c.node), ['n1', 'n2']);
    const cut = new QueryPlanner(view('n3', { n1: 'suspect' }, true)).plan(recall('space1'));
    assert.equal(cut.partitioned, true);
    assert.deepEqual(cut.partitions[0]!.copies.map((c) => c.node), ['n2', 'n1']);
  });

  it('plans Consolidate on every copy: only the group leader runs it, the others refuse and the next is tried', () => {
    const plan = new QueryPlanner(view('n3')).plan({ kind: 'consolidate', space: 'space1' });
    assert.deepEqual(plan.partitions[0]!.copies.map((c) => c.node), ['n1', 'n2']);
  });

  it('throws SpaceNotFoundError for an unknown space before any call', () => {
    assert.throws(() => new QueryPlanner(view('n1')).plan(imagine(['space1', 'nowhere'])), (e: unknown) => e instanceof SpaceNotFoundError && e.space === 'nowhere');
  });

  it('takes the caller timeout, explicit values only, and validates options', () => {
    assert.equal(new QueryPlanner(view('n1')).plan(recall('space1'), { timeoutMs: 42 }).timeoutMs, 42);
    for (const timeoutMs of [0, -1, 1.5, 10_000_000]) {
      assert.throws(() => new QueryPlanner(view('n1')).plan(recall('space1'), { timeoutMs }), InvalidArgumentError);
    }
    assert.throws(() => new QueryPlanner(view('n1')).plan(recall('space1'), { minCoverage: 2 }), InvalidArgumentError);
    assert.throws(() => new QueryPlanner(view('n1')).plan(imagine(['space1', 'space1'])), /named twice/);
  });

  it('broadcasts an Imagine to every space of the cluster', () => {
    const plan = new QueryPlanner(view('n1')).plan(imagine([]), {}, 'broadcast');
    assert.equal(plan.strategy, 'broadcast');
    assert.deepEqual(plan.partitions.map((p) => p.partition), ['space1', 'space2', 'space3']);
    assert.throws(() => new QueryPlanner(view('n1')).plan(recall('space1'), {}, 'broadcast'), InvalidArgumentError);
  });
});

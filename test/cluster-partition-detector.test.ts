/** Partition detector: share counting, state transitions on a fake clock, listener and timer cleanup. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../src/errors.js';
import type { MemberState } from '../src/cluster/cluster-view.js';
import {
  DEFAULT_HEAL_MS,
  DEFAULT_PARTITION_THRESHOLD,
  PartitionDetector,
  type DetectorTimers,
  type PartitionChange,
} from '../src/cluster/partition-detector.js';

/** Timers driven by `advance`, recording unref calls and what is still pending. */
class FakeTimers implements DetectorTimers {
  now = 0;
  unrefs = 0;
  readonly pending = new Map<number, { at: number; callback: () => void }>();
  #next = 1;
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.set(id, { at: this.now + ms, callback });
    return { id, unref: () => void this.unrefs++ };
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete((handle as { id: number }).id);
  }
  advance(ms: number): void {
    this.now += ms;
    for (const [id, t] of [...this.pending].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at > this.now || !this.pending.has(id)) continue;
      this.pending.delete(id);
      t.callback();
    }
  }
}

/** Self plus four others, `down` of them down. */
const cluster = (down: number, extra: { id: string; state: MemberState }[] = []) => [
  { id: 'self', state: 'alive' as MemberState },
  ...['a', 'b', 'c', 'd'].map((id, i) => ({ id, state: (i < down ? 'down' : 'alive') as MemberState })),
  ...extra,
];

function setup(options: { threshold?: number; healMs?: number } = {}) {
  const timers = new FakeTimers();
  const detector = new PartitionDetector({ selfId: 'self', timers, ...options });
  const changes: PartitionChange[] = [];
  detector.onChange((c) => changes.push(c));
  const path = () => changes.map((c) => `${c.previous}>${c.state}`);
  return { timers, detector, changes, path };
}

describe('PartitionDetector share', () => {
  it('defaults to a 0.6 threshold and a 2 s heal', () => {
    assert.equal(DEFAULT_PARTITION_THRESHOLD, 0.6);
    assert.equal(DEFAULT_HEAL_MS, 2_000);
  });

  it('stays connected at exactly the threshold and partitions below it', () => {
    const { detector, path } = setup();
    assert.equal(detector.state, 'connected');
    detector.update(cluster(2));
    assert.deepEqual(detector.snapshot(), { state: 'connected', reachable: 3, known: 5, share: 0.6 });
    detector.update(cluster(3));
    assert.deepEqual(detector.snapshot(), { state: 'partitioned', reachable: 2, known: 5, share: 0.4 });
    assert.ok(detector.isPartitioned());
    assert.deepEqual(path(), ['connected>partitioned']);
  });

  it('counts suspect as reachable, ignores left members, and always counts self', () => {
    const { detector } = setup();
    const suspects = cluster(0).map((m) => (m.id === 'self' ? m : { ...m, state: 'suspect' as MemberState }));
    detector.update(suspects);
    assert.equal(detector.snapshot().share, 1);
    detector.update([{ id: 'self', state: 'down' }, { id: 'a', state: 'down' }, { id: 'b', state: 'left' }, { id: 'c', state: 'left' }]);
    assert.deepEqual(detector.snapshot(), { state: 'partitioned', reachable: 1, known: 2, share: 0.5 });
    detector.update([{ id: 'a', state: 'left' }]);
    assert.equal(detector.snapshot().known, 1, 'self missing from the list is still known');
  });

  it('never partitions with threshold 0 (an explicit 0 is not the default)', () => {
    const { detector } = setup({ threshold: 0 });
    detector.update(cluster(4));
    assert.equal(detector.state, 'connected');
  });

  it('rejects bad options', () => {
    for (const options of [{ threshold: 1.1 }, { threshold: -0.1 }, { threshold: Number.NaN }, { healMs: -1 }, { healMs: Infinity }, { selfId: '' }]) {
      assert.throws(() => new PartitionDetector({ selfId: 'self', ...options }), ConfigError, JSON.stringify(options));
    }
  });
});

describe('PartitionDetector transitions', () => {
  it('heals only after the share has stayed up for healMs', () => {
    const { detector, timers, path } = setup({ healMs: 1_000 });
    detector.update(cluster(3));
    detector.update(cluster(1));
    assert.equal(detector.state, 'healing');
    assert.ok(detector.isPartitioned(), 'healing still counts as partitioned');
    assert.equal(timers.unrefs, 1, 'the heal timer must not hold the process open');
    timers.advance(500);
    detector.update(cluster(0)); // a further good update does not restart the wait
    timers.advance(499);
    assert.equal(detector.state, 'healing');
    timers.advance(1);
    assert.equal(detector.state, 'connected');
    assert.ok(!detector.isPartitioned());
    assert.deepEqual(path(), ['connected>partitioned', 'partitioned>healing', 'healing>connected']);
    assert.equal(timers.pending.size, 0);
  });

  it('goes back to partitioned when the share drops while healing, and the old heal never fires', () => {
    const { detector, timers, path } = setup({ healMs: 1_000 });
    detector.update(cluster(3));
    detector.update(cluster(0));
    timers.advance(900);
    detector.update(cluster(4));
    assert.equal(timers.pending.size, 0);
    timers.advance(10_000);
    assert.equal(detector.state, 'partitioned');
    detector.update(cluster(2));
    timers.advance(999);
    assert.equal(detector.state, 'healing');
    timers.advance(1);
    assert.deepEqual(path(), ['connected>partitioned', 'partitioned>healing', 'healing>partitioned', 'partitioned>healing', 'healing>connected']);
  });

  it('heals at once with healMs 0, still passing through healing', () => {
    const { detector, timers, path } = setup({ healMs: 0 });
    detector.update(cluster(3));
    detector.update(cluster(0));
    assert.equal(detector.state, 'connected');
    assert.equal(timers.pending.size, 0);
    assert.deepEqual(path(), ['connected>partitioned', 'partitioned>healing', 'healing>connected']);
  });

  it('emits nothing when the state does not change', () => {
    const { detector, changes } = setup();
    detector.update(cluster(0));
    detector.update(cluster(1));
    detector.update(cluster(2));
    assert.equal(changes.length, 0);
  });

  it('passes the counts with each change', () => {
    const { detector, changes } = setup();
    detector.update(cluster(4));
    assert.deepEqual(changes, [{ previous: 'connected', state: 'partitioned', reachable: 1, known: 5, share: 0.2 }]);
  });
});

describe('PartitionDetector cleanup', () => {
  it('stops calling a listener once it unsubscribes, without skipping the others', () => {
    const { detector, changes } = setup();
    const seen: string[] = [];
    const off = detector.onChange(() => {
      seen.push('first');
      off();
    });
    detector.onChange(() => seen.push('second'));
    detector.update(cluster(3));
    detector.update(cluster(0));
    assert.deepEqual(seen, ['first', 'second', 'second']);
    assert.equal(changes.length, 2);
  });

  it('close() cancels the heal timer, drops listeners and ignores later updates', () => {
    const { detector, timers, changes } = setup();
    detector.update(cluster(3));
    detector.update(cluster(0));
    assert.equal(timers.pending.size, 1);
    detector.close();
    assert.equal(timers.pending.size, 0);
    detector.update(cluster(4));
    timers.advance(DEFAULT_HEAL_MS * 2);
    assert.equal(detector.state, 'healing');
    assert.equal(changes.length, 2);
  });

  it('a listener that closes the detector mid-event stops the rest and any healing', () => {
    const timers = new FakeTimers();
    const detector = new PartitionDetector({ selfId: 'self', timers, healMs: 0 });
    const seen: string[] = [];
    detector.onChange((c) => {
      seen.push(c.state);
      if (c.state === 'healing') detector.close();
    });
    detector.onChange((c) => seen.push(`other:${c.state}`));
    detector.update(cluster(3));
    detector.update(cluster(0));
    assert.deepEqual(seen, ['partitioned', 'other:partitioned', 'healing']);
    assert.equal(detector.state, 'healing');
  });
});

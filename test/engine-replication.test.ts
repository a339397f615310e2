import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setImmediate } from 'node:timers/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../src/errors.js';
import { Engine } from '../src/engine/engine.js';
import { ReplicaDivergedError, ReplicationGapError } from '../src/errors.js';
import { scanFrames } from '../src/storage/frame.js';
import { decodeRecord, encodeRecord, type LogRecord } from '../src/storage/log-record.js';
import { logPath } from '../src/storage/space-log.js';

const SPACE = 'mem';
const DIM = 4;
let dir: string;
const vec = (i: number) => [Math.cos(i), Math.sin(i), Math.cos(3 * i), 1];
const openAt = (name: string) => Engine.open(join(dir, name), { warn: (m) => assert.fail(`unexpected warning: ${m}`) });
const logOf = (name: string) => logPath(join(dir, name), SPACE);
const payload = (r: LogRecord) => encodeRecord(r);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'engram-engine-replication-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A primary with stores (memories, associations, replaced ids, restated edges) and a consolidation. */
async function primary(): Promise<Engine> {
  const engine = await openAt('primary');
  await engine.createSpace(SPACE, DIM);
  const ids = Array.from({ length: 8 }, (_, i) => `m${i}`);
  await engine.store(SPACE, {
    memories: ids.slice(0, 5).map((id, i) => ({ id, embedding: vec(i * 0.3), content: `first ${id}`, confidence: { lower: 0.1 * i, upper: 0.9 } })),
    associations: [{ from: 'm0', to: 'm1', weight: 0.8 }, { from: 'm1', to: 'm2', weight: 0.5 }, { from: 'm2', to: 'm7', weight: 0.4 }],
  });
  await engine.store(SPACE, {
    memories: [{ id: 'm1', embedding: vec(2), content: 'replaced m1' }, ...ids.slice(5).map((id, i) => ({ id, embedding: vec(4 + i * 0.1) }))],
    associations: [{ from: 'm0', to: 'm1', weight: 0.3 }, { from: 'm5', to: 'm0', weight: 1 }, { from: 'm6', to: 'x', toSpace: 'other', weight: 0.2 }],
  });
  assert.ok((await engine.consolidate(SPACE, { threshold: 0.8 })).patternsCreated > 0);
  await engine.store(SPACE, { memories: [{ id: 'late', embedding: vec(0.05), content: 'after consolidation' }] });
  return engine;
}

function answers(engine: Engine) {
  const cue = { embedding: [1, 0.5, 0, 0.25] };
  return {
    info: engine.spaceInfo(SPACE),
    recall: engine.recall(SPACE, { cue, limit: 100, threshold: -1 }),
    recallText: engine.recall(SPACE, { cue: { text: 'replaced memory' }, limit: 5 }),
    spread: engine.spread(SPACE, { seeds: ['m0', 'm5'] }),
    complete: engine.complete(SPACE, { values: [1, 0, 0, 0], known: [true, true, false, false] }),
    imagine: engine.imagine(SPACE, { cue }),
  };
}

/** Ships every record from `from` to `to` in pages of `page`; returns how many were applied. */
async function ship(from: Engine, to: Engine, page = 2): Promise<number> {
  let applied = 0;
  for (let next = 2; ;) {
    const { records } = await from.readRecords(SPACE, next, page);
    if (records.length === 0) return applied;
    for (const r of records) {
      assert.equal(r.position, next++);
      if ((await to.applyReplicated(SPACE, r.position, r.payload)).applied) applied++;
    }
  }
}

const withoutDuration = ({ durationMs, ...rest }: { durationMs: number }) => (assert.ok(durationMs >= 0), rest);

test('a replica fed every record answers, consolidates and logs exactly as the primary', async () => {
  const p = await primary();
  let r = await openAt('replica');
  try {
    await r.createSpace(SPACE, DIM);
    assert.equal(await ship(p, r), p.lastPosition(SPACE) - 1);
    assert.deepEqual(answers(r), answers(p));
    assert.equal(r.lastPosition(SPACE), p.spaceInfo(SPACE).logPosition);
    assert.deepEqual(await readFile(logOf('replica')), await readFile(logOf('primary')));

    // The same deterministic consolidation on both creates the same patterns (and the same record).
    assert.deepEqual(withoutDuration(await r.consolidate(SPACE, { threshold: 0.5 })), withoutDuration(await p.consolidate(SPACE, { threshold: 0.5 })));
    assert.deepEqual(await readFile(logOf('replica')), await readFile(logOf('primary')));

    const before = answers(p);
    await r.close();
    r = await openAt('replica');
    assert.deepEqual(answers(r), before);
  } finally {
    await Promise.all([p.close(), r.close()]);
  }
});

test('re-applying is a no-op, a gap or a different record is refused, and nothing is appended', async () => {
  const p = await primary();
  const r = await openAt('replica');
  try {
    await r.createSpace(SPACE, DIM);
    await ship(p, r);
    const size = (await stat(logOf('replica'))).size;
    const before = answers(r);
    const { records, lastPosition } = await p.readRecords(SPACE, 2, 100);
    for (const rec of records) assert.deepEqual(await r.applyReplicated(SPACE, rec.position, rec.payload), { applied: false, position: rec.position });
    assert.equal(await ship(p, r, 1), 0);

    const extra = payload({ type: 'store', memories: [], associations: [{ from: 'm0', to: 'm3', toSpace: '', weight: 0.5 }] });
    await assert.rejects(r.applyReplicated(SPACE, lastPosition + 2, extra), (e: unknown) =>
      e instanceof ReplicationGapError && e.code === 'ERR_REPLICATION_GAP' && e.space === SPACE && e.expected === lastPosition + 1 && e.got === lastPosition + 2);
    await assert.rejects(r.applyReplicated(SPACE, 2, records[1]!.payload), (e: unknown) =>
      e instanceof ReplicaDivergedError && e.code === 'ERR_REPLICA_DIVERGED' && e.position === 2);
    await assert.rejects(r.applyReplicated(SPACE, lastPosition, extra), ReplicaDivergedError);

    assert.equal((await stat(logOf('replica'))).size, size);
    assert.deepEqual(answers(r), before);
    // The refusals left the log writable: the next position is still taken.
    assert.deepEqual(await r.applyReplicated(SPACE, lastPosition + 1, extra), { applied: true, position: lastPosition + 1 });
    assert.equal(r.spaceInfo(SPACE).associations, before.info.associations + 1);
  } finally {
    await Promise.all([p.close(), r.close()]);
  }
});

test('readRecords pages by maxRecords and maxBytes and returns the logged bytes', async () => {
  const p = await primary();
  try {
    const logged = scanFrames(await readFile(logOf('primary')), 'primary').payloads.map((x) => new Uint8Array(x));
    const last = logged.length;
    assert.equal(p.lastPosition(SPACE), last);
    const positions = (rs: { position: number }[]) => rs.map((x) => x.position);

    const all = await p.readRecords(SPACE, 1, 1000);
    assert.deepEqual(positions(all.records), Array.from({ length: last - 1 }, (_, i) => i + 2));
    all.records.forEach((x) => assert.deepEqual(x.payload, logged[x.position - 1]));
    assert.equal(all.lastPosition, last);

    assert.deepEqual(positions((await p.readRecords(SPACE, 3, 2)).records), [3, 4]);
    assert.deepEqual(positions((await p.readRecords(SPACE, last, 5)).records), [last]);
    // Budget: a record bigger than it still ships alone; otherwise stop before passing it.
    assert.deepEqual(positions((await p.readRecords(SPACE, 2, 10, 1)).records), [2]);
    const two = logged[1]!.byteLength + logged[2]!.byteLength;
    assert.deepEqual(positions((await p.readRecords(SPACE, 2, 10, two)).records), [2, 3]);
    assert.deepEqual(positions((await p.readRecords(SPACE, 2, 10, two - 1)).records), [2]);

    for (const from of [last + 1, last + 100]) assert.deepEqual(await p.readRecords(SPACE, from, 10), { records: [], lastPosition: last });
    for (const [from, max, bytes] of [[0, 1, undefined], [2, 0, undefined], [2.5, 1, undefined], [2, 1, 0]] as const) {
      await assert.rejects(p.readRecords(SPACE, from, max, bytes), InvalidArgumentError);
    }
  } finally {
    await p.close();
  }
});

test('readRecords concurrent with stores returns only whole, logged records', async () => {
  const engine = await openAt('primary');
  await engine.createSpace(SPACE, DIM);
  try {
    let done = false;
    const stores = Promise.all(Array.from({ length: 40 }, (_, i) =>
      engine.store(SPACE, { memories: [{ id: `c${i}`, embedding: vec(i), content: 'x'.repeat(i * 50) }] }))).finally(() => { done = true; });
    const seen = new Map<number, Uint8Array>();
    const lastSeen = new Set<number>();
    while (!done) {
      const { records, lastPosition } = await engine.readRecords(SPACE, 2, 1000);
      lastSeen.add(lastPosition);
      // A read past the end does no I/O; yield so the queued appends get the event loop (no timer).
      await setImmediate();
      assert.deepEqual(records.map((x) => x.position), Array.from({ length: lastPosition - 1 }, (_, i) => i + 2));
      for (const x of records) {
        assert.equal(decodeRecord(x.payload).type, 'store');
        seen.set(x.position, x.payload);
      }
    }
    await stores;
    // The reads really did overlap the writes: some saw the log part-way.
    assert.ok([...lastSeen].some((n) => n > 1 && n < 41), `read positions ${[...lastSeen]}`);
    const logged = scanFrames(await readFile(logOf('primary')), 'primary').payloads.map((x) => new Uint8Array(x));
    assert.equal(logged.length, 41);
    for (const [position, bytes] of seen) assert.deepEqual(bytes, logged[position - 1]);
  } finally {
    await engine.close();
  }
});

test('a read in flight when the engine closes still completes', async () => {
  const p = await primary();
  const reading = p.readRecords(SPACE, 2, 100);
  await p.close();
  const { records, lastPosition } = await reading;
  assert.ok(lastPosition > 2);
  assert.equal(records.length, lastPosition - 1);
});

test('a malformed or foreign payload is refused with nothing appended', async () => {
  const r = await openAt('replica');
  try {
    await r.createSpace(SPACE, DIM);
    const size = (await stat(logOf('replica'))).size;
    const mem = { id: 'a', embedding: new Float32Array([1, 0, 0, 0]), content: '', lower: 0.5, upper: 0.9, createdAt: 1 };
    const bad: unknown[] = [
      new TextEncoder().encode('not json'),
      new TextEncoder().encode('{"type":"store","memories":"no"}'),
      new Uint8Array(0),
      'a string',
      payload({ type: 'space', space: SPACE, dimension: DIM }),
      payload({ type: 'store', memories: [], associations: [] }),
      payload({ type: 'store', memories: [{ ...mem, embedding: new Float32Array([1, 0, 0]) }], associations: [] }),
      payload({ type: 'store', memories: [{ ...mem, embedding: new Float32Array(4) }], associations: [] }),
      payload({ type: 'store', memories: [{ ...mem, id: '' }], associations: [] }),
      payload({ type: 'store', memories: [{ ...mem, lower: 0.95 }], associations: [] }),
      payload({ type: 'store', memories: [mem], associations: [{ from: 'nobody', to: 'a', toSpace: '', weight: 0.5 }] }),
      payload({ type: 'store', memories: [mem], associations: [{ from: 'a', to: 'a', toSpace: '', weight: 0 }] }),
      payload({ type: 'patterns', threshold: 0.9, patterns: [] }),
      payload({ type: 'patterns', threshold: 0.9, patterns: [{ id: 'pattern:a', centroid: new Float32Array([1, 0]), members: ['a'] }] }),
    ];
    for (const b of bad) await assert.rejects(r.applyReplicated(SPACE, 2, b as Uint8Array), InvalidArgumentError);
    await assert.rejects(r.applyReplicated(SPACE, 1, payload({ type: 'space', space: SPACE, dimension: DIM })), InvalidArgumentError);
    assert.equal(r.lastPosition(SPACE), 1);
    assert.equal((await stat(logOf('replica'))).size, size);
    assert.deepEqual(await r.applyReplicated(SPACE, 2, payload({ type: 'store', memories: [mem], associations: [] })), { applied: true, position: 2 });
  } finally {
    await r.close();
  }
});

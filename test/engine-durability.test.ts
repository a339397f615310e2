import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, stat, truncate, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageError } from '../src/errors.js';
import { Engine } from '../src/engine/engine.js';
import { logPath } from '../src/storage/space-log.js';

let dir: string;
let warnings: string[];
const open = () => Engine.open(dir, { warn: (m) => warnings.push(m) });
const vec = (i: number) => [Math.cos(i), Math.sin(i), Math.cos(3 * i), 1];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'engram-engine-durability-'));
  warnings = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Creates space "mem" and stores `batches` batches of 3 memories (+ a chain of edges); returns each batch's log end offset. */
async function fill(batches: number): Promise<number[]> {
  const engine = await open();
  await engine.createSpace('mem', 4);
  const ends: number[] = [];
  for (let b = 0; b < batches; b++) {
    const ids = [0, 1, 2].map((k) => `m${b * 3 + k}`);
    await engine.store('mem', {
      memories: ids.map((id, k) => ({ id, embedding: vec(b * 3 + k), content: `memory ${id}`, createdAt: 1000 + b })),
      associations: ids.slice(1).map((to, k) => ({ from: ids[k]!, to, weight: 0.5 })),
    });
    ends.push((await stat(logPath(dir, 'mem'))).size);
  }
  await engine.close();
  return ends;
}

function answers(engine: Engine) {
  const cue = { embedding: [1, 0.5, 0, 0.25] };
  return {
    info: engine.spaceInfo('mem'),
    recall: engine.recall('mem', { cue, limit: 100, threshold: -1 }),
    spread: engine.spread('mem', { seeds: ['m0', 'm3'] }),
    complete: engine.complete('mem', { values: [1, 0, 0, 0], known: [true, true, false, false] }),
    imagine: engine.imagine('mem', { cue }),
  };
}

test('store, close, reopen: the same answers, and the log continues', async () => {
  const engine = await open();
  await engine.createSpace('mem', 4);
  await engine.createSpace('empty', 8);
  await engine.store('mem', { memories: [0, 1, 2, 3].map((i) => ({ id: `m${i}`, embedding: vec(i), confidence: { lower: 0.1 * i, upper: 0.9 } })), associations: [{ from: 'm0', to: 'm3', weight: 0.7 }] });
  await engine.store('mem', { memories: [{ id: 'm1', embedding: vec(9), content: 'replaced' }] });
  await engine.consolidate('mem', { threshold: 0.5 });
  const before = answers(engine);
  const spaces = engine.spaces();
  await engine.close();

  const reopened = await open();
  try {
    assert.deepEqual(answers(reopened), before);
    assert.deepEqual(reopened.spaces(), spaces);
    assert.equal((await reopened.consolidate('mem', { threshold: 0.5 })).patternsCreated, 0);
    const r = await reopened.store('mem', { memories: [{ id: 'm9', embedding: vec(5) }] });
    assert.equal(r.logPosition, before.info.logPosition + 1);
    assert.deepEqual(warnings, []);
  } finally {
    await reopened.close();
  }
});

test('concurrent stores are logged and applied in call order', async () => {
  const engine = await open();
  await engine.createSpace('mem', 4);
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => engine.store('mem', { memories: [{ id: 'same', embedding: vec(i), content: String(i) }] })));
  assert.deepEqual(results.map((r) => r.logPosition), Array.from({ length: 20 }, (_, i) => i + 2));
  const content = (e: Engine) => new TextDecoder().decode(e.recall('mem', { cue: { embedding: vec(19) }, limit: 1 }).content);
  assert.equal(content(engine), '19');
  await engine.close();
  const reopened = await open();
  assert.equal(content(reopened), '19');
  await reopened.close();
});

test('a log cut mid-record keeps every complete record and accepts writes again', async () => {
  const ends = await fill(3);
  await truncate(logPath(dir, 'mem'), ends[2]! - 5);
  const engine = await open();
  try {
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /torn tail/);
    assert.deepEqual([engine.spaceInfo('mem').memories, engine.spaceInfo('mem').logPosition], [6, 3]);
    assert.equal((await stat(logPath(dir, 'mem'))).size, ends[1]);
    await engine.store('mem', { memories: [{ id: 'after', embedding: vec(1) }] });
  } finally {
    await engine.close();
  }
  warnings = [];
  const again = await open();
  assert.deepEqual([again.spaceInfo('mem').memories, again.spaceInfo('mem').logPosition], [7, 4]);
  assert.deepEqual(warnings, []);
  await again.close();
});

test('garbage appended after the last record is cut; every record stays', async () => {
  await fill(2);
  await appendFile(logPath(dir, 'mem'), Buffer.from('\x07\x00\x00\x00garbage{"type":"store"'));
  const engine = await open();
  assert.deepEqual([engine.spaceInfo('mem').memories, engine.spaceInfo('mem').associations], [6, 4]);
  assert.equal(warnings.length, 1);
  await engine.close();
});

test('a space whose header never reached the disk is removed at open', async () => {
  await fill(1);
  await truncate(logPath(dir, 'mem'), 6);
  const engine = await open();
  assert.equal(engine.hasSpace('mem'), false);
  assert.deepEqual(await readdir(join(dir, 'spaces')), []);
  assert.deepEqual((await engine.createSpace('mem', 4)).created, true);
  await engine.close();
});

test('damage in the middle of a log is a StorageError, not silent loss', async () => {
  const ends = await fill(3);
  const path = logPath(dir, 'mem');
  const bytes = await readFile(path);
  bytes[ends[0]! + 20] = bytes[ends[0]! + 20]! ^ 0x20; // inside the second batch's payload; the third is intact
  await writeFile(path, bytes);
  await assert.rejects(open(), (e: unknown) => e instanceof StorageError && e.path === path);
});

test('a log whose header names another space is a StorageError', async () => {
  await fill(1);
  const bytes = await readFile(logPath(dir, 'mem'));
  await writeFile(join(dir, 'spaces', 'other.log'), bytes);
  await assert.rejects(open(), StorageError);
});

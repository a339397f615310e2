import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageError } from '../src/errors.js';
import { encodeFrame, scanFrames } from '../src/storage/frame.js';
import { decodeBatch, decodeSnapshot, encodeBatch, encodeSnapshot } from '../src/raft/raft-record.js';
import { groupDirName, RaftStore } from '../src/raft/raft-store.js';
import type { RaftPersistEntry, RaftSnapshot } from '../src/raft/raft-native-types.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const entry = (index: number, term: number, data = `e${index}t${term}`): RaftPersistEntry => ({ index, term, data: bytes(data) });
const hs = (term: number, commit: number) => ({ term, vote: 1, commit });

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'engram-raft-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a log batch and a snapshot round-trip, and every payload starts with 0x7b for frame resync', () => {
  const batch = { hardState: hs(3, 2), entries: [entry(4, 3), entry(5, 3, '')] };
  const back = decodeBatch(encodeBatch(batch));
  assert.deepEqual(back.hardState, batch.hardState);
  assert.deepEqual(back.entries.map((e) => [e.index, e.term, text(e.data)]), [[4, 3, 'e4t3'], [5, 3, '']]);
  assert.deepEqual(decodeBatch(encodeBatch({ hardState: null, entries: [] })), { hardState: null, entries: [] });
  const snap = { index: 9, term: 2, metadata: bytes('meta'), data: bytes('state') };
  const s = decodeSnapshot(encodeSnapshot(snap));
  assert.deepEqual([s.index, s.term, text(s.metadata), text(s.data)], [9, 2, 'meta', 'state']);
  assert.equal(encodeBatch(batch)[0], 0x7b);
  assert.equal(encodeSnapshot(snap)[0], 0x7b);
  assert.throws(() => decodeBatch(encodeBatch(batch).subarray(0, 20)), RangeError);
  assert.throws(() => decodeBatch(encodeBatch({ hardState: null, entries: [entry(1, 1), entry(3, 1)] })), /follows/);
});

test('group directory names keep safe characters and escape the rest, so no id can leave the raft directory', () => {
  assert.equal(groupDirName('meta'), 'meta');
  assert.equal(groupDirName('space-A_1'), 'space-A_1');
  assert.equal(groupDirName('../x'), '%2E%2E%2Fx');
  assert.equal(groupDirName('é'), '%C3%A9');
  assert.throws(() => groupDirName(''), RangeError);
});

test('replay: the last hard state wins, later entries replace a conflicting tail, entries behind the snapshot are dropped', async (t) => {
  const dir = await tempDir(t);
  const store = await RaftStore.open(dir);
  await store.create('g', 2, { entries: [entry(1, 1), entry(2, 1)], hardState: hs(1, 2) });
  await store.persistReady('g', { entries: [entry(3, 2), entry(4, 2), entry(5, 2)], hardState: hs(2, 3) });
  // A new leader's entries from index 4 on replace the old tail (4, 5 of term 2).
  await store.persistReady('g', { entries: [entry(4, 3)], hardState: hs(3, 4) });
  await store.close();

  const again = await RaftStore.open(dir);
  assert.deepEqual(await again.list(), ['g']);
  const loaded = await again.load('g');
  assert.equal(loaded.id, 2);
  assert.deepEqual(loaded.state.hardState, hs(3, 4));
  assert.equal(loaded.state.entries.length, 4);
  assert.equal(loaded.snapshot, null);

  const snapshot: RaftSnapshot = {
    index: 2,
    term: 1,
    confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    metadata: bytes('m'),
    data: bytes('state@2'),
  };
  await again.compact('g', snapshot);
  await again.close();
  const third = await RaftStore.open(dir);
  const compacted = await third.load('g');
  assert.equal(compacted.snapshot?.index, 2);
  assert.equal(text(compacted.snapshot!.data), 'state@2');
  assert.equal(compacted.state.entries.length, 2, 'entries 3 and 4 remain');
  assert.deepEqual(compacted.state.hardState, hs(3, 4), 'the hard state survives the rewrite');
  await third.close();
});

test('a torn last frame is cut with a warning; damage before an intact frame is refused', async (t) => {
  const dir = await tempDir(t);
  const store = await RaftStore.open(dir);
  await store.create('g', 1, { entries: [entry(1, 1)], hardState: hs(1, 1) });
  await store.persistReady('g', { entries: [entry(2, 1)], hardState: hs(1, 2) });
  await store.close();
  const log = join(dir, 'raft', 'g', 'log');
  const whole = await readFile(log);
  const half = encodeFrame(encodeBatch({ hardState: hs(1, 3), entries: [entry(3, 1)] }));
  await writeFile(log, Buffer.concat([whole, half.subarray(0, half.byteLength - 3)]));

  const warnings: string[] = [];
  const again = await RaftStore.open(dir, (m) => warnings.push(m));
  const loaded = await again.load('g');
  assert.equal(loaded.state.entries.length, 2);
  assert.deepEqual(loaded.state.hardState, hs(1, 2));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /torn tail cut/);
  assert.equal((await readFile(log)).byteLength, whole.byteLength, 'the file is cut back to its intact prefix');
  // Appends continue after the cut.
  await again.persistReady('g', { entries: [entry(3, 1)], hardState: hs(1, 3) });
  await again.close();
  assert.equal(scanFrames(await readFile(log), log).payloads.length, 3);

  // Flip a byte inside the first frame: intact frames follow it, so this is not a torn write.
  const handle = await open(log, 'r+');
  await handle.write(Buffer.from([0xff]), 0, 1, 12);
  await handle.close();
  const third = await RaftStore.open(dir);
  await assert.rejects(third.load('g'), StorageError);
  await third.close();
});

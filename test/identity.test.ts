/**
 * Storage ids on real temporary directories, and the raft peer id derived from them: stable
 * across restarts, new after a wipe, a damaged file refused (never silently replaced), and first
 * opens racing in one process and across processes agreeing on one id.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLUSTER_ID_FILE, openStorageId, raftIdOf, readClusterId, recordClusterId, STORAGE_ID_FILE, storageIdFileText } from '../src/cluster/identity.js';
import { InvalidArgumentError, StorageError } from '../src/errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const IDENTITY_JS = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cluster', 'identity.js');

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'engram-identity-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function refusedAsDamaged(dataDir: string): Promise<void> {
  const before = await readFile(join(dataDir, STORAGE_ID_FILE));
  await assert.rejects(openStorageId(dataDir), (e: unknown) =>
    e instanceof StorageError && e.path === join(dataDir, STORAGE_ID_FILE) && /damaged.*not replaced on its own/.test(e.message));
  assert.deepEqual(await readFile(join(dataDir, STORAGE_ID_FILE)), before, 'the damaged file is left as it was');
}

describe('storage identity', () => {
  it('is made on first use (directory and parents created), written as one checked line, and the same on every reopen', async (t) => {
    const dataDir = join(await tempDir(t), 'a', 'b', 'data');
    const first = await openStorageId(dataDir);
    assert.equal(first.created, true);
    assert.match(first.storageId, UUID);
    const text = await readFile(join(dataDir, STORAGE_ID_FILE), 'utf8');
    assert.equal(text, storageIdFileText(first.storageId));
    assert.match(text, /^\{"format":"engram-storage-id","version":1,"storageId":"[0-9a-f-]{36}","check":"[0-9a-f]{16}"\}\n$/);
    for (let i = 0; i < 3; i++) assert.deepEqual(await openStorageId(dataDir), { storageId: first.storageId, created: false });
    assert.deepEqual(await readdir(dataDir), [STORAGE_ID_FILE], 'no temporary file is left behind');
  });

  it('a wiped directory gets a new id, hence a new raft peer id', async (t) => {
    const dataDir = join(await tempDir(t), 'data');
    const before = await openStorageId(dataDir);
    await rm(dataDir, { recursive: true });
    const after = await openStorageId(dataDir);
    assert.equal(after.created, true);
    assert.notEqual(after.storageId, before.storageId);
    assert.notEqual(raftIdOf('n1', after.storageId), raftIdOf('n1', before.storageId));
  });

  it('refuses a damaged file instead of making a new id', async (t) => {
    const dataDir = await tempDir(t);
    const { storageId } = await openStorageId(dataDir);
    const good = storageIdFileText(storageId);
    const file = join(dataDir, STORAGE_ID_FILE);
    // One hex digit of the id changed: still a UUID, caught by the checksum.
    const digit = good.indexOf(storageId) + 2;
    const flipped = good.slice(0, digit) + (good[digit] === '0' ? '1' : '0') + good.slice(digit + 1);
    for (const damaged of [flipped, good.slice(0, 30), '', '\u0000'.repeat(good.length), good.replace('\n', ''), good.replace('"version":1', '"version":2'), ` ${good}`]) {
      await writeFile(file, damaged);
      await refusedAsDamaged(dataDir);
    }
    await writeFile(file, good);
    assert.deepEqual(await openStorageId(dataDir), { storageId, created: false });
  });

  it('a data directory that is not a directory is a StorageError', async (t) => {
    const path = join(await tempDir(t), 'file');
    await writeFile(path, 'x');
    await assert.rejects(openStorageId(path), StorageError);
  });

  it('first opens racing in one process agree on one id, made once', async (t) => {
    const dataDir = join(await tempDir(t), 'data');
    const all = await Promise.all(Array.from({ length: 8 }, () => openStorageId(dataDir)));
    assert.equal(new Set(all.map((r) => r.storageId)).size, 1);
    assert.equal(all.filter((r) => r.created).length, 1);
    assert.deepEqual(await readdir(dataDir), [STORAGE_ID_FILE]);
  });

  it('first opens racing in separate processes agree on one id, made once', async (t) => {
    const dataDir = join(await tempDir(t), 'data');
    // Each child loads the module, says ready, and opens when the parent says go: the opens
    // start together instead of one process start apart.
    const script = `
      const { openStorageId } = await import(${JSON.stringify(IDENTITY_JS)});
      process.stdout.write('ready\\n');
      process.stdin.once('data', async () => {
        process.stdout.write(JSON.stringify(await openStorageId(${JSON.stringify(dataDir)})) + '\\n');
        process.exit(0);
      });`;
    const children = Array.from({ length: 4 }, () => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] }));
    t.after(() => children.forEach((c) => c.exitCode === null && c.kill()));
    const lines = children.map((c) => {
      let buf = '';
      const got: string[] = [];
      const waiters: ((l: string) => void)[] = [];
      c.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const w = waiters.shift();
          if (w) w(line);
          else got.push(line);
        }
      });
      return () => new Promise<string>((resolve) => (got.length > 0 ? resolve(got.shift()!) : waiters.push(resolve)));
    });
    assert.deepEqual(await Promise.all(lines.map((next) => next())), ['ready', 'ready', 'ready', 'ready']);
    for (const c of children) c.stdin!.write('go\n');
    const results = (await Promise.all(lines.map((next) => next()))).map((l) => JSON.parse(l) as { storageId: string; created: boolean });
    assert.equal(new Set(results.map((r) => r.storageId)).size, 1, JSON.stringify(results));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal((await openStorageId(dataDir)).storageId, results[0]!.storageId);
  });
});

describe('raft peer id', () => {
  const storageId = '3b241101-e2bb-4255-8caf-4136c566a962';

  it('is pinned: changing the derivation would give every existing peer a new id', () => {
    // Computed once from the documented recipe; a change here must be deliberate.
    assert.equal(raftIdOf('n1', storageId), 3110427376502160);
  });

  it('is a safe integer ≥ 1, the same for the same pair and different when either half changes', () => {
    const ids = new Set<number>();
    for (let n = 0; n < 200; n++) {
      const id = raftIdOf(`node-${n}`, storageId);
      assert.ok(Number.isSafeInteger(id) && id >= 1, String(id));
      assert.equal(raftIdOf(`node-${n}`, storageId), id);
      ids.add(id);
    }
    assert.equal(ids.size, 200);
    assert.notEqual(raftIdOf('n1', storageId), raftIdOf('n1', '3b241101-e2bb-4255-8caf-4136c566a963'));
  });

  it('refuses a node id or storage id that is not one', () => {
    assert.throws(() => raftIdOf('', storageId), (e: unknown) => e instanceof InvalidArgumentError && e.field === 'nodeId');
    assert.throws(() => raftIdOf('n1', storageId.toUpperCase()), (e: unknown) => e instanceof InvalidArgumentError && e.field === 'storageId');
  });
});

describe('cluster id of a data directory', () => {
  it('is recorded once and never changes; a damaged file is an error, never a new id', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'engram-cluster-id-'));
    try {
      assert.equal(await readClusterId(dir), undefined);
      const first = '1c7e6a52-3f0b-4d8e-9a21-6b5c4d3e2f10';
      assert.equal(await recordClusterId(dir, first), first);
      assert.equal(await readClusterId(dir), first);
      // Another cluster's id does not replace it: the caller gets the recorded one and compares.
      assert.equal(await recordClusterId(dir, '2d8f7b63-4a1c-4e9f-8b32-7c6d5e4f3a21'), first);
      assert.equal(await readClusterId(dir), first);
      assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
      await assert.rejects(recordClusterId(dir, 'NOT-A-UUID'), InvalidArgumentError);
      const text = await readFile(join(dir, CLUSTER_ID_FILE), 'utf8');
      await writeFile(join(dir, CLUSTER_ID_FILE), text.replace(first, '3e9a8c74-5b2d-4fa0-9c43-8d7e6f5a4b32'));
      await assert.rejects(readClusterId(dir), (e: unknown) => e instanceof StorageError && /cluster id file is damaged/.test(e.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

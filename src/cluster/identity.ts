/**
 * Identity of a copy (DESIGN §5): a data directory has a storage id, a UUID made the first time
 * the directory is used and never changed after; a Raft peer is (node id, storage id). A node
 * whose disk was wiped or replaced therefore comes back as a new peer, never as the voter it was:
 * a wiped voter that voted again could elect a leader lacking committed entries (Elasticsearch's
 * in-sync allocation ids play this role).
 *
 * The id lives in `<dataDir>/storage-id`, one line of JSON with a checksum. It is made through a
 * temporary file (written, fsynced) that is then hard-linked into place: unlike a rename, a link
 * never replaces a file that is already there, so two processes opening a fresh directory at once
 * cannot each believe their own id won. The directory is fsynced before the id is handed out.
 * A file that does not read back exactly as written is an error, never a reason to make a new id.
 */
import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InvalidArgumentError, StorageError } from '../errors.js';
import { NODE_ID_PATTERN, UUID_PATTERN } from './meta/meta-fields.js';
import { syncDirectory } from '../storage/sync-directory.js';

/** Name of the storage id file in a data directory. */
export const STORAGE_ID_FILE = 'storage-id';
const FORMAT = 'engram-storage-id';
const VERSION = 1;

export interface StorageIdentity {
  /** The data directory's storage id, a lowercase UUID. */
  storageId: string;
  /** True when this call made it: the directory had no id before (first use, or wiped). */
  created: boolean;
}

/**
 * The storage id of `dataDir` (created with its parents if missing), made and stored durably on
 * first use. Throws StorageError when the file is damaged or cannot be read or written.
 */
export async function openStorageId(dataDir: string): Promise<StorageIdentity> {
  const path = join(dataDir, STORAGE_ID_FILE);
  const existing = await readStorageId(path);
  if (existing !== undefined) {
    // Another process may have just linked it in without its directory fsync done yet.
    await syncDirectory(dataDir, path);
    return { storageId: existing, created: false };
  }
  await makeDir(dataDir, path);
  const mine = randomUUID();
  const tmp = join(dataDir, `${STORAGE_ID_FILE}.${randomUUID()}.tmp`);
  let created: boolean;
  try {
    await writeSynced(tmp, storageIdFileText(mine));
    created = await linkOnce(tmp, path);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  await syncDirectory(dataDir, path);
  if (created) return { storageId: mine, created: true };
  // Another process linked its id first: that one is the directory's.
  const theirs = await readStorageId(path);
  if (theirs === undefined) throw new StorageError(path, 'the storage id file vanished while it was being created');
  return { storageId: theirs, created: false };
}

/**
 * The Raft peer id of a copy: the first 53 bits of SHA-256("engram-raft-id" ‖ 0 ‖ node id ‖ 0 ‖
 * storage id), 0 mapped to 1 (raft's "none"). 53 bits so it crosses into the addon as an exact JS
 * number. Two peers colliding is about n²/2⁵⁴ likely; the metadata state refuses a member whose
 * raft id another holds, so a collision is a refused join, never two peers sharing an id.
 */
export function raftIdOf(nodeId: string, storageId: string): number {
  if (!NODE_ID_PATTERN.test(nodeId)) throw new InvalidArgumentError('nodeId', nodeId, 'must be 1-64 characters of [A-Za-z0-9_.-]');
  if (!UUID_PATTERN.test(storageId)) throw new InvalidArgumentError('storageId', storageId, 'must be a lowercase UUID');
  const digest = createHash('sha256').update(`engram-raft-id\u0000${nodeId}\u0000${storageId}`, 'utf8').digest();
  const id = Number(digest.readBigUInt64BE(0) >> 11n);
  return id === 0 ? 1 : id;
}

/** The exact text of a storage id file (parsing demands this spelling back). */
export function storageIdFileText(storageId: string): string {
  return `${JSON.stringify({ format: FORMAT, version: VERSION, storageId, check: check(storageId) })}\n`;
}

/** The id in `path`, undefined when there is no file; StorageError when it is damaged or unreadable. */
function readStorageId(path: string): Promise<string | undefined> {
  return readIdFile(path, 'storageId', storageIdFileText,
    'the storage id file is damaged. It is not replaced on its own: a new id makes this node a new Raft peer. ' +
      `Restore the file, or empty ${dirname(path)} to rejoin as a new peer (its data is then copied from the others)`);
}

/**
 * The UUID under `field` of the one-line id file at `path`, which must read back exactly as
 * `textOf` writes it; undefined when there is no file.
 */
async function readIdFile(path: string, field: 'storageId' | 'clusterId', textOf: (id: string) => string, damaged: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StorageError(path, `cannot read the ${field === 'storageId' ? 'storage' : 'cluster'} id`, e);
  }
  let id: unknown;
  try {
    id = (JSON.parse(text) as Record<string, unknown>)[field];
  } catch {
    id = undefined;
  }
  if (typeof id !== 'string' || !UUID_PATTERN.test(id) || textOf(id) !== text) throw new StorageError(path, damaged);
  return id;
}

function check(storageId: string): string {
  return createHash('sha256').update(`${FORMAT}\u0000${storageId}`, 'utf8').digest('hex').slice(0, 16);
}

async function writeSynced(path: string, text: string): Promise<void> {
  try {
    const handle = await open(path, 'wx');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (e) {
    throw new StorageError(path, 'cannot write an id file', e);
  }
}

/** Name of the cluster id file in a data directory. */
export const CLUSTER_ID_FILE = 'cluster-id';
const CLUSTER_FORMAT = 'engram-cluster-id';

/** The exact text of a cluster id file. */
export function clusterIdFileText(clusterId: string): string {
  const c = createHash('sha256').update(`${CLUSTER_FORMAT}\u0000${clusterId}`, 'utf8').digest('hex').slice(0, 16);
  return `${JSON.stringify({ format: CLUSTER_FORMAT, version: VERSION, clusterId, check: c })}\n`;
}

/**
 * The id of the cluster `dataDir` belongs to, or undefined before it bootstrapped or joined one.
 * Written once, before the node's metadata group exists on disk (`recordClusterId`), so a node
 * never holds Raft state without knowing whose it is. StorageError when the file is damaged.
 */
export function readClusterId(dataDir: string): Promise<string | undefined> {
  return readIdFile(join(dataDir, CLUSTER_ID_FILE), 'clusterId', clusterIdFileText,
    `the cluster id file is damaged; restore it, or empty ${dataDir} to join again as a new peer`);
}

/**
 * Records the cluster `dataDir` belongs to, durably; a directory never changes cluster, so when
 * it already names one, that one is returned (the caller compares).
 */
export async function recordClusterId(dataDir: string, clusterId: string): Promise<string> {
  if (!UUID_PATTERN.test(clusterId)) throw new InvalidArgumentError('clusterId', clusterId, 'must be a lowercase UUID');
  const path = join(dataDir, CLUSTER_ID_FILE);
  await makeDir(dataDir, path);
  const tmp = join(dataDir, `${CLUSTER_ID_FILE}.${randomUUID()}.tmp`);
  try {
    await writeSynced(tmp, clusterIdFileText(clusterId));
    await linkOnce(tmp, path);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  await syncDirectory(dataDir, path);
  return (await readClusterId(dataDir))!;
}

/** Links `tmp` to `path` unless `path` exists: true when this call created it. */
async function linkOnce(tmp: string, path: string): Promise<boolean> {
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new StorageError(path, 'cannot put an id file in place', e);
  }
}

/** Creates `dir` and its missing parents, each new entry fsynced in its parent. */
async function makeDir(dir: string, forPath: string): Promise<void> {
  let first: string | undefined;
  try {
    first = await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new StorageError(forPath, `cannot create ${dir}`, e);
  }
  if (first === undefined) return;
  for (let d = dir; ; d = dirname(d)) {
    await syncDirectory(dirname(d), forPath);
    if (d === first || dirname(d) === d) break;
  }
}


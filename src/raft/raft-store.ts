/**
 * Durable state of the Raft groups of one node: `<dataDir>/raft/<group>/` per group with
 *   group.json  {"group", "id"}: the group id and this node's raft id in it (written once);
 *   log         frames of persisted Readies (raft-record.ts), appended and fdatasynced;
 *   snapshot    one frame, replaced atomically (write .tmp, fsync, rename, fsync the directory).
 * Replay: the last hard state wins; a batch's entries replace every entry from its first index
 * on (a deposed leader's tail is overwritten, as raft-rs did in memory); entries at or below the
 * snapshot are dropped. A torn last frame (a write that never completed, so never acknowledged
 * and never followed by a message that depended on it) is cut; damage before intact frames is
 * a StorageError. Calls for one group run one at a time, in call order.
 */
import { mkdir, open, readFile, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../errors.js';
import { encodeFrame, scanFrames } from '../storage/frame.js';
import { decodeBatch, decodeSnapshot, encodeBatch, encodeSnapshot, type LogBatch, type SnapshotRecord } from './raft-record.js';
import type { RaftBootstrap, RaftHardState, RaftPersistEntry, RaftReady, RaftRestoreState, RaftSnapshot } from './raft-native-types.js';
import { syncDirectory } from '../storage/sync-directory.js';

/** Receives one line per repair made while loading (a torn tail cut). */
export type RaftWarnFn = (message: string) => void;

/** Directory of the Raft groups inside a data directory. */
export function raftDir(dataDir: string): string {
  return join(dataDir, 'raft');
}

/** Directory name of a group: [A-Za-z0-9_-] kept, every other UTF-8 byte as %XX (so no '.', '/'). */
export function groupDirName(group: string): string {
  if (group.length === 0 || group.length > 200) throw new RangeError(`a raft group id must have 1 to 200 characters (got ${group.length})`);
  let out = '';
  for (const byte of new TextEncoder().encode(group)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** A group as loaded from disk: what `RaftGroups.restore` takes, plus the snapshot for the state machine. */
export interface LoadedGroup {
  group: string;
  /** This node's raft id in the group. */
  id: number;
  state: RaftRestoreState;
  snapshot: SnapshotRecord | null;
}

const EMPTY_HARD_STATE: RaftHardState = { term: 0, vote: 0, commit: 0 };

class GroupFiles {
  handle: FileHandle | null = null;
  size = 0;
  hardState: RaftHardState = EMPTY_HARD_STATE;
  /** Tail of the per-group queue: every operation waits for the one before. */
  queue: Promise<unknown> = Promise.resolve();
  /** Set when a write failed: the file past `size` is unknown, so nothing more is written. */
  failure: unknown = null;
  constructor(readonly dir: string) {}
  get log(): string {
    return join(this.dir, 'log');
  }
  get snapshot(): string {
    return join(this.dir, 'snapshot');
  }
}

export class RaftStore {
  readonly dir: string;
  readonly #warn: RaftWarnFn;
  readonly #groups = new Map<string, GroupFiles>();

  private constructor(dir: string, warn: RaftWarnFn) {
    this.dir = dir;
    this.#warn = warn;
  }

  static async open(dataDir: string, warn: RaftWarnFn = () => undefined): Promise<RaftStore> {
    const dir = raftDir(dataDir);
    await mkdir(dir, { recursive: true });
    return new RaftStore(dir, warn);
  }

  /** Group ids with a complete group.json on disk, sorted. */
  async list(): Promise<string[]> {
    const out: string[] = [];
    for (const name of await readdir(this.dir)) {
      try {
        out.push((await this.#readMeta(join(this.dir, name))).group);
      } catch {
        // A directory whose create never finished (no group.json yet) holds no acknowledged state.
      }
    }
    return out.sort();
  }

  #serial<T>(group: string, files: GroupFiles, work: () => Promise<T>): Promise<T> {
    const run = files.queue.then(() => {
      if (files.failure !== null) throw new StorageError(files.log, `an earlier write of raft group ${JSON.stringify(group)} failed; reload it`, files.failure);
      return work();
    });
    files.queue = run.catch(() => undefined);
    return run;
  }

  #files(group: string): GroupFiles {
    const files = this.#groups.get(group);
    if (!files) throw new StorageError(join(this.dir, groupDirName(group)), `raft group ${JSON.stringify(group)} is not open in this store`);
    return files;
  }

  /**
   * Creates a group's files, durable before resolving: the bootstrap entries and hard state when
   * this node bootstraps the group, an empty log when it joins one.
   */
  async create(group: string, id: number, bootstrap: RaftBootstrap | null): Promise<void> {
    const dir = join(this.dir, groupDirName(group));
    if (this.#groups.has(group)) throw new StorageError(dir, `raft group ${JSON.stringify(group)} is already open`);
    await mkdir(dir, { recursive: true });
    const files = new GroupFiles(dir);
    const frames = bootstrap ? [encodeFrame(encodeBatch({ hardState: bootstrap.hardState, entries: bootstrap.entries }))] : [];
    await writeDurably(files.log, frames);
    // group.json last: its presence is what makes the group exist at the next start.
    await writeDurably(join(dir, 'group.json'), [new TextEncoder().encode(JSON.stringify({ group, id }))]);
    await syncDirectory(this.dir, dir);
    if (bootstrap) files.hardState = bootstrap.hardState;
    await this.#openLog(files);
    this.#groups.set(group, files);
  }

  /** Reads a group back (cutting a torn tail) and opens it for appends. */
  async load(group: string): Promise<LoadedGroup> {
    const dir = join(this.dir, groupDirName(group));
    if (this.#groups.has(group)) throw new StorageError(dir, `raft group ${JSON.stringify(group)} is already open`);
    const meta = await this.#readMeta(dir);
    const files = new GroupFiles(dir);
    const snapshot = await readSnapshot(files.snapshot);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(files.log);
    } catch (e) {
      throw new StorageError(files.log, 'cannot read the raft log', e);
    }
    const scan = scanFrames(bytes, files.log);
    let hardState = EMPTY_HARD_STATE;
    let entries: RaftPersistEntry[] = [];
    scan.payloads.forEach((payload, i) => {
      let batch: LogBatch;
      try {
        batch = decodeBatch(payload);
      } catch (e) {
        throw new StorageError(files.log, `frame ${i + 1} does not decode: ${(e as Error).message}`, e);
      }
      if (batch.hardState) hardState = batch.hardState;
      entries = replaceFrom(entries, batch.entries);
    });
    if (scan.tail !== null) {
      const handle = await open(files.log, 'r+');
      try {
        await handle.truncate(scan.validBytes);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      this.#warn(`${files.log}: torn tail cut (${scan.tail}); it was never acknowledged`);
    }
    if (snapshot) entries = entries.filter((e) => e.index > snapshot.index);
    files.hardState = hardState;
    await this.#openLog(files);
    this.#groups.set(group, files);
    return {
      group,
      id: meta.id,
      snapshot,
      state: {
        hardState,
        ...(snapshot ? { snapshot: { metadata: snapshot.metadata, data: snapshot.data } } : {}),
        entries: entries.map((e) => e.data),
      },
    };
  }

  /**
   * Persists a Ready's snapshot, entries and hard state and syncs them; resolves once they
   * survive power loss. A snapshot (from the leader) replaces the log.
   */
  persistReady(group: string, ready: Pick<RaftReady, 'entries' | 'hardState' | 'snapshot'>): Promise<void> {
    const files = this.#files(group);
    return this.#serial(group, files, async () => {
      const batch: LogBatch = { hardState: ready.hardState ?? null, entries: ready.entries };
      if (ready.hardState) files.hardState = ready.hardState;
      if (ready.snapshot) {
        await this.#writeSnapshot(files, ready.snapshot);
        await this.#rewriteLog(files, [{ hardState: files.hardState, entries: ready.entries }]);
      } else if (batch.hardState || batch.entries.length > 0) {
        await this.#append(files, encodeFrame(encodeBatch(batch)));
      }
    });
  }

  /** Makes `snapshot` (from `RaftGroups.compact`) durable, then drops the log up to it. */
  compact(group: string, snapshot: RaftSnapshot): Promise<void> {
    const files = this.#files(group);
    return this.#serial(group, files, async () => {
      await this.#writeSnapshot(files, snapshot);
      const bytes = await readFile(files.log);
      let entries: RaftPersistEntry[] = [];
      for (const payload of scanFrames(bytes, files.log).payloads) entries = replaceFrom(entries, decodeBatch(payload).entries);
      await this.#rewriteLog(files, [{ hardState: files.hardState, entries: entries.filter((e) => e.index > snapshot.index) }]);
    });
  }

  /** Closes a group and deletes its files. */
  async destroy(group: string): Promise<void> {
    const files = this.#groups.get(group);
    const dir = files?.dir ?? join(this.dir, groupDirName(group));
    if (files) {
      await files.queue;
      await files.handle?.close();
      this.#groups.delete(group);
    }
    // group.json first: a crash part-way leaves a directory `list` ignores.
    await rm(join(dir, 'group.json'), { force: true });
    await rm(dir, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    for (const files of this.#groups.values()) {
      await files.queue;
      await files.handle?.close();
    }
    this.#groups.clear();
  }

  async #readMeta(dir: string): Promise<{ group: string; id: number }> {
    const path = join(dir, 'group.json');
    let meta: unknown;
    try {
      meta = JSON.parse(await readFile(path, 'utf8'));
    } catch (e) {
      throw new StorageError(path, 'cannot read the raft group file', e);
    }
    const { group, id } = (meta ?? {}) as { group?: unknown; id?: unknown };
    if (typeof group !== 'string' || !Number.isSafeInteger(id) || (id as number) <= 0) throw new StorageError(path, 'the raft group file names no group or id');
    return { group, id: id as number };
  }

  async #openLog(files: GroupFiles): Promise<void> {
    files.handle = await open(files.log, 'r+');
    files.size = (await files.handle.stat()).size;
  }

  async #append(files: GroupFiles, frame: Uint8Array): Promise<void> {
    const handle = files.handle!;
    try {
      let done = 0;
      while (done < frame.byteLength) {
        const { bytesWritten } = await handle.write(frame, done, frame.byteLength - done, files.size + done);
        done += bytesWritten;
      }
      await handle.datasync();
    } catch (e) {
      // After a failed write or fsync the page cache may not match the disk: refuse later
      // writes rather than bury a hole under them.
      files.failure = e;
      await handle.truncate(files.size).catch(() => undefined);
      throw new StorageError(files.log, 'raft log append failed', e);
    }
    files.size += frame.byteLength;
  }

  async #writeSnapshot(files: GroupFiles, s: RaftSnapshot): Promise<void> {
    await writeDurably(files.snapshot, [encodeFrame(encodeSnapshot(s))]);
  }

  /** Replaces the log with `batches`, atomically (a crash leaves the old log or the new one). */
  async #rewriteLog(files: GroupFiles, batches: LogBatch[]): Promise<void> {
    await files.handle?.close();
    files.handle = null;
    try {
      await writeDurably(files.log, batches.map((b) => encodeFrame(encodeBatch(b))));
      await this.#openLog(files);
    } catch (e) {
      files.failure = e;
      throw e;
    }
  }
}

/** A batch's entries replace every entry from their first index on. */
function replaceFrom(entries: RaftPersistEntry[], batch: RaftPersistEntry[]): RaftPersistEntry[] {
  if (batch.length === 0) return entries;
  const first = batch[0]!.index;
  const kept = entries.filter((e) => e.index < first);
  kept.push(...batch);
  return kept;
}

async function readSnapshot(path: string): Promise<SnapshotRecord | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StorageError(path, 'cannot read the raft snapshot', e);
  }
  // Written whole and renamed into place: any damage here is real, never a torn write.
  const scan = scanFrames(bytes, path);
  if (scan.tail !== null || scan.payloads.length !== 1) throw new StorageError(path, `raft snapshot is damaged (${scan.tail ?? `${scan.payloads.length} frames`})`);
  try {
    return decodeSnapshot(scan.payloads[0]!);
  } catch (e) {
    throw new StorageError(path, `raft snapshot does not decode: ${(e as Error).message}`, e);
  }
}

/** Writes `path` whole through a temporary file, fsynced, renamed into place, directory fsynced. */
async function writeDurably(path: string, chunks: Uint8Array[]): Promise<void> {
  const tmp = path + '.tmp';
  try {
    const handle = await open(tmp, 'w');
    try {
      // writeFile loops until every byte is written (a bare write may write fewer).
      await handle.writeFile(Buffer.concat(chunks));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (e) {
    throw new StorageError(path, 'cannot write durably', e);
  }
  await syncDirectory(join(path, '..'), path);
}


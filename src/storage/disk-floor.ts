/**
 * The free-disk floor (`--min-free-disk`): writes are refused with DiskFullError
 * (RESOURCE_EXHAUSTED) while the data directory's filesystem has less free space than the floor,
 * so a full disk stops new writes at the edge instead of failing a log append half-way (after
 * which a space refused writes until restart). Checked where a write enters: a public
 * Store/CreateSpace and a leader's proposal — never a follower applying a committed entry, which
 * must not diverge from its group. Free space is read again at most every CACHE_MS, so writes
 * resume by themselves once space is freed.
 */
import { statfs as fsStatfs } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { ConfigError, DiskFullError } from '../errors.js';

/** Default floor, bytes: room for a few log appends, a Raft snapshot and the node's own files. */
export const DEFAULT_MIN_FREE_DISK_BYTES = 256 * 1024 * 1024;
/** How long one reading of the free space is trusted, ms. */
export const DISK_FLOOR_CACHE_MS = 1_000;

/** A floor in bytes, or as a share of the filesystem's size (0..100 %). */
export type DiskFloorSetting = { bytes: number } | { percent: number };

const UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** `268435456`, `256MiB`, `1GiB` or `1%`; `0` turns the floor off. `setting` names it in errors. */
export function parseDiskFloor(raw: string, setting = '--min-free-disk'): DiskFloorSetting {
  const pct = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(raw);
  if (pct) {
    const percent = Number(pct[1]);
    if (!(percent >= 0 && percent <= 100)) throw new ConfigError(setting, `a percentage must be 0..100 (got ${JSON.stringify(raw)})`);
    return { percent };
  }
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new ConfigError(setting, `must be bytes (e.g. 268435456, 256MiB, 1GiB) or a percentage of the disk (e.g. 1%) (got ${JSON.stringify(raw)})`);
  const bytes = Number(m[1]) * unit;
  if (!Number.isSafeInteger(bytes)) throw new ConfigError(setting, `is too large (got ${JSON.stringify(raw)})`);
  return { bytes };
}

/** The part of `fs.statfs` the floor reads (injected by tests). */
export interface DiskStats { bsize: number; blocks: number; bavail: number }
export type StatfsFn = (path: string) => Promise<DiskStats>;

export interface DiskFloorOptions {
  /** Directory whose filesystem is checked (the data directory). */
  path: string;
  /** Default DEFAULT_MIN_FREE_DISK_BYTES. */
  floor?: DiskFloorSetting;
  /** Default `fs.promises.statfs`. */
  statfs?: StatfsFn;
  /** Monotonic clock, ms. Default `performance.now`. */
  now?: () => number;
  /** Default DISK_FLOOR_CACHE_MS; 0 reads on every check. */
  cacheMs?: number;
}

/** What a writer needs of the floor: a check that throws DiskFullError. */
export interface WriteGuard {
  check(): Promise<void>;
}

export class DiskFloor implements WriteGuard {
  readonly path: string;
  readonly floor: DiskFloorSetting;
  readonly #statfs: StatfsFn;
  readonly #now: () => number;
  readonly #cacheMs: number;
  #reading: { at: number; stats: Promise<DiskStats | undefined> } | undefined;

  constructor(options: DiskFloorOptions) {
    this.path = options.path;
    this.floor = options.floor ?? { bytes: DEFAULT_MIN_FREE_DISK_BYTES };
    this.#statfs = options.statfs ?? ((p) => fsStatfs(p));
    this.#now = options.now ?? (() => performance.now());
    this.#cacheMs = options.cacheMs ?? DISK_FLOOR_CACHE_MS;
  }

  /** Free bytes and the floor in bytes now (from a reading at most cacheMs old); undefined when statfs fails. */
  async measure(): Promise<{ freeBytes: number; floorBytes: number } | undefined> {
    const now = this.#now();
    if (!this.#reading || now - this.#reading.at >= this.#cacheMs) {
      // One reading shared by the writes that arrive together. A failing statfs (a filesystem
      // without it) does not block writes: the log append reports its own errors.
      this.#reading = { at: now, stats: this.#statfs(this.path).catch(() => undefined) };
    }
    const stats = await this.#reading.stats;
    if (!stats) return undefined;
    const freeBytes = stats.bavail * stats.bsize;
    const floorBytes = 'bytes' in this.floor ? this.floor.bytes : Math.ceil((stats.blocks * stats.bsize * this.floor.percent) / 100);
    return { freeBytes, floorBytes };
  }

  /** Throws DiskFullError while the free space is below the floor. */
  async check(): Promise<void> {
    if ('bytes' in this.floor ? this.floor.bytes === 0 : this.floor.percent === 0) return;
    const m = await this.measure();
    if (m && m.freeBytes < m.floorBytes) throw new DiskFullError(this.path, m.freeBytes, m.floorBytes);
  }
}

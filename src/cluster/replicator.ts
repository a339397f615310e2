/**
 * Log-shipping replication (DESIGN §5). The primary of a space appends a write to its log, then
 * one shipper per replica sends the records the replica lacks, in position order, over the
 * internal `Replicate` call; the replica appends the same bytes at the same positions. A replica
 * that was down or cut off is caught up by the same loop from the position it reports, so no
 * write is lost or applied twice. A write is acknowledged once the copies the caller asked for
 * (`one`, `quorum`, `all`) hold it durably.
 */
import type { Engine } from '../engine/engine.js';
import { ReplicationGapError, ReplicationTimeoutError } from '../errors.js';
import type { Logger } from '../util/logger.js';
import type { Cluster } from './cluster.js';
import type { InternalCalls } from './peer-clients.js';

/** Records per Replicate call. */
export const DEFAULT_REPLICATION_BATCH_RECORDS = 256;
/** Payload bytes per Replicate call (at least one record is always sent). */
export const DEFAULT_REPLICATION_BATCH_BYTES = 4 * 1024 * 1024;
/** Wait before a shipper tries an unreachable replica again, ms. */
export const DEFAULT_REPLICATION_RETRY_MS = 250;
/** Deadline of one Replicate call, ms. */
export const DEFAULT_REPLICATE_CALL_MS = 5_000;
/** How long a write waits for the copies it asked for before failing, ms. */
export const DEFAULT_ACK_TIMEOUT_MS = 5_000;

export type AckLevel = 'one' | 'quorum' | 'all';

/** Copies (primary included) a write needs before it is acknowledged. */
export function copiesRequired(ack: AckLevel, copies: number): number {
  if (ack === 'one') return 1;
  if (ack === 'all') return copies;
  return Math.floor(copies / 2) + 1;
}

export interface ReplicaLag { space: string; replica: string; ackedPosition: number; primaryPosition: number; lag: number }

interface ReplicateRequest { space: string; dimension: number; records: { position: number; payload: Uint8Array }[]; from: string }

class Shipper {
  /** Last position the replica reported holding; 0 until it first answers. */
  acked = 0;
  #running = false;
  /** A kick arrived while running: run once more, so no write is left unshipped. */
  #again = false;
  #retry: NodeJS.Timeout | undefined;
  #waiters: { position: number; done: () => void }[] = [];
  #closed = false;
  /** Failing since this error (logged once per streak, not on every retry). */
  #failing: string | undefined;

  constructor(
    readonly space: string,
    readonly replica: string,
    private readonly r: Replicator,
  ) {}

  /** Resolves when the replica holds `position` (or the shipper is closed). */
  reached(position: number): Promise<void> {
    if (this.acked >= position || this.#closed) return Promise.resolve();
    return new Promise((done) => this.#waiters.push({ position, done }));
  }

  kick(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#running = true;
    void this.#run().finally(() => {
      this.#running = false;
      if (this.#again && this.#retry === undefined) {
        this.#again = false;
        this.kick();
      }
    });
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    for (const w of this.#waiters) w.done();
    this.#waiters = [];
  }

  async #run(): Promise<void> {
    try {
      // The first call carries no record: it learns where the replica stands.
      let first = this.acked === 0;
      while (!this.#closed && (first || this.acked < this.r.engine.lastPosition(this.space))) {
        const { records } = first
          ? { records: [] }
          : await this.r.engine.readRecords(this.space, this.acked + 1, DEFAULT_REPLICATION_BATCH_RECORDS, DEFAULT_REPLICATION_BATCH_BYTES);
        first = false;
        const address = this.r.cluster.member(this.replica)?.grpcAddress;
        if (!address) throw new Error(`replica ${this.replica} is not a known member`);
        const entry = this.r.cluster.assignment(this.space);
        const req: ReplicateRequest = { space: this.space, dimension: entry?.dimension ?? 0, records, from: this.r.nodeId };
        const res = await this.r.peers.internal<{ position: number }>(address, 'Replicate', req, DEFAULT_REPLICATE_CALL_MS);
        this.#advance(res.position);
        if (this.#failing !== undefined) {
          this.#failing = undefined;
          this.r.logger.info('replication resumed', { space: this.space, replica: this.replica, position: res.position });
        }
      }
    } catch (err) {
      if (this.#closed) return;
      const message = (err as Error).message;
      if (this.#failing !== message) this.r.logger.warn('replication paused', { space: this.space, replica: this.replica, error: message });
      this.#failing = message;
      this.#retry = setTimeout(() => this.kick(), DEFAULT_REPLICATION_RETRY_MS).unref();
    }
  }

  #advance(position: number): void {
    this.acked = position;
    const still: { position: number; done: () => void }[] = [];
    for (const w of this.#waiters) {
      if (w.position <= position) w.done();
      else still.push(w);
    }
    this.#waiters = still;
  }
}

export class Replicator {
  readonly #shippers = new Map<string, Shipper>();
  #closed = false;

  constructor(
    readonly nodeId: string,
    readonly engine: Engine,
    readonly peers: InternalCalls,
    readonly cluster: Cluster,
    readonly logger: Logger,
  ) {
    cluster.on('member', (m: { id: string; state: string }) => {
      if (m.state === 'alive') this.#forEach((s) => s.replica === m.id && s.kick());
    });
    cluster.on('table', () => this.syncShippers());
  }

  /** Starts a shipper for every replica of every space this node is primary of; kicks them all. */
  syncShippers(): void {
    if (this.#closed) return;
    for (const entry of this.cluster.assignments()) {
      if (entry.primary !== this.nodeId || !this.engine.hasSpace(entry.space)) continue;
      for (const replica of entry.replicas) this.#shipper(entry.space, replica).kick();
    }
  }

  #shipper(space: string, replica: string): Shipper {
    const key = `${space}\u0000${replica}`;
    let s = this.#shippers.get(key);
    if (!s) {
      s = new Shipper(space, replica, this);
      this.#shippers.set(key, s);
    }
    return s;
  }

  #forEach(fn: (s: Shipper) => void): void {
    for (const s of this.#shippers.values()) fn(s);
  }

  /**
   * After a local write at `position` on a space this node is primary of: ships it and resolves
   * with the number of copies holding it once `ack` is satisfied; ReplicationTimeoutError if not
   * within `timeoutMs` (the write stays durable here and still reaches the replicas later).
   */
  async afterWrite(space: string, position: number, ack: AckLevel, timeoutMs = DEFAULT_ACK_TIMEOUT_MS): Promise<number> {
    const replicas = this.cluster.assignment(space)?.replicas ?? [];
    const shippers = replicas.map((r) => this.#shipper(space, r));
    for (const s of shippers) s.kick();
    const required = copiesRequired(ack, replicas.length + 1);
    const holding = () => 1 + shippers.filter((s) => s.acked >= position).length;
    if (holding() < required) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        timer.unref();
        let pending = required - holding();
        for (const s of shippers) {
          void s.reached(position).then(() => {
            if (--pending <= 0) {
              clearTimeout(timer);
              resolve();
            }
          });
        }
      });
    }
    const achieved = holding();
    if (achieved < required) throw new ReplicationTimeoutError(space, required, achieved, position);
    return achieved;
  }

  /** A write this node made without going through `afterWrite` (e.g. consolidation): ship it. */
  kick(space: string): void {
    this.#forEach((s) => s.space === space && s.kick());
  }

  /** Replica side of `Replicate`: apply what follows our log, report where we stand. */
  async receive(req: ReplicateRequest): Promise<{ position: number }> {
    if (!this.engine.hasSpace(req.space)) await this.engine.createSpace(req.space, req.dimension || undefined);
    for (const rec of req.records) {
      try {
        await this.engine.applyReplicated(req.space, rec.position, rec.payload);
      } catch (err) {
        // Behind: the primary rewinds to the position we report and sends what is missing.
        if (err instanceof ReplicationGapError) break;
        throw err;
      }
    }
    return { position: this.engine.lastPosition(req.space) };
  }

  lag(): ReplicaLag[] {
    const out: ReplicaLag[] = [];
    for (const s of this.#shippers.values()) {
      if (!this.engine.hasSpace(s.space)) continue;
      const primaryPosition = this.engine.lastPosition(s.space);
      out.push({ space: s.space, replica: s.replica, ackedPosition: s.acked, primaryPosition, lag: Math.max(0, primaryPosition - s.acked) });
    }
    return out.sort((a, b) => (a.space + a.replica < b.space + b.replica ? -1 : 1));
  }

  close(): void {
    this.#closed = true;
    this.#forEach((s) => s.close());
  }
}

/**
 * Tells whether this node is cut off from the cluster (DESIGN §5): it is *partitioned* when the
 * members it reaches are fewer than `threshold` of the members it knows. It feeds the planner
 * (try replicas) and the confidence penalty (+0.1 while partitioned).
 *
 * Counting rules. Self is always known and reachable. `alive` and `suspect` members are reachable:
 * SWIM marks a member suspect after one missed probe, and counting that as lost would flap on a
 * single dropped packet. `down` members are known but unreachable. `left` members are not known:
 * they departed on purpose and say nothing about connectivity. So the membership source must
 * keep reporting down members until they leave, or a cut-off node would "heal" by forgetting.
 * In a two-node cluster one down member gives a share of 0.5, which is partitioned at the default
 * threshold: with only two nodes neither can tell whose side the fault is on.
 *
 * States: `connected` → `partitioned` when the share drops below the threshold; `partitioned` →
 * `healing` when it rises back to or above it; `healing` → `connected` once it has stayed there
 * for `healMs`; `healing` → `partitioned` if it drops again. `isPartitioned()` stays true while
 * healing, so answers keep their penalty and the planner keeps its caution until the cluster has
 * been whole for a while, rather than trusting the first membership update after a flap.
 */
import { ConfigError } from '../errors.js';
import type { MemberState } from './cluster-view.js';

/** Share of known members (self included) this node must reach to count as connected: 0.6. */
export const DEFAULT_PARTITION_THRESHOLD = 0.6;
/** How long the share must stay at or above the threshold before healing ends, ms: 2,000. */
export const DEFAULT_HEAL_MS = 2_000;

export type PartitionState = 'connected' | 'partitioned' | 'healing';

/** The timer functions the detector uses; injectable so tests drive time without sleeping. */
export interface DetectorTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface PartitionDetectorOptions {
  /** This node's id; counted as reachable whatever state a membership list gives it. */
  selfId: string;
  /** Share in 0..1 below which the node is partitioned; 0 never partitions. Default 0.6. */
  threshold?: number;
  /** Time the share must stay at or above the threshold before `healing` becomes `connected`, ms ≥ 0. Default 2,000. */
  healMs?: number;
  /** Default: the global `setTimeout` / `clearTimeout`. */
  timers?: DetectorTimers;
}

/** What the detector last computed, as given to listeners and `snapshot()`. */
export interface PartitionSnapshot {
  state: PartitionState;
  /** Members reachable, self included. */
  reachable: number;
  /** Members known (not left), self included. */
  known: number;
  /** reachable / known. */
  share: number;
}

export interface PartitionChange extends PartitionSnapshot {
  previous: PartitionState;
}

export type PartitionListener = (change: PartitionChange) => void;

export class PartitionDetector {
  readonly #selfId: string;
  readonly #threshold: number;
  readonly #healMs: number;
  readonly #timers: DetectorTimers;
  readonly #listeners = new Set<PartitionListener>();
  #snapshot: PartitionSnapshot = { state: 'connected', reachable: 1, known: 1, share: 1 };
  #healTimer: unknown = undefined;
  #closed = false;

  constructor(options: PartitionDetectorOptions) {
    const threshold = options.threshold ?? DEFAULT_PARTITION_THRESHOLD;
    if (!(typeof threshold === 'number' && threshold >= 0 && threshold <= 1)) {
      throw new ConfigError('threshold', `must be a number in 0..1 (got ${String(threshold)})`);
    }
    const healMs = options.healMs ?? DEFAULT_HEAL_MS;
    if (!(typeof healMs === 'number' && Number.isFinite(healMs) && healMs >= 0)) {
      throw new ConfigError('healMs', `must be a finite number ≥ 0 (got ${String(healMs)})`);
    }
    if (typeof options.selfId !== 'string' || options.selfId === '') throw new ConfigError('selfId', 'must be a non-empty string');
    this.#selfId = options.selfId;
    this.#threshold = threshold;
    this.#healMs = healMs;
    this.#timers = options.timers ?? { setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  }

  get state(): PartitionState {
    return this.#snapshot.state;
  }

  /** True while `partitioned` or `healing` (see the module comment). */
  isPartitioned(): boolean {
    return this.#snapshot.state !== 'connected';
  }

  snapshot(): PartitionSnapshot {
    return { ...this.#snapshot };
  }

  /** Subscribes to state changes; returns the function that unsubscribes. */
  onChange(listener: PartitionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Feeds the full membership list (self may be in it or not); call on every membership change. Ignored after `close()`. */
  update(members: readonly { id: string; state: MemberState }[]): void {
    if (this.#closed) return;
    let known = 1;
    let reachable = 1;
    // Keyed by id, so a member listed twice is counted once (the later entry wins).
    for (const [id, state] of new Map(members.map((m) => [m.id, m.state]))) {
      if (id === this.#selfId || state === 'left') continue;
      known++;
      if (state === 'alive' || state === 'suspect') reachable++;
    }
    const share = reachable / known;
    const enough = share >= this.#threshold;
    const next = !enough ? 'partitioned' : this.#snapshot.state === 'connected' ? 'connected' : 'healing';
    this.#set(next, { reachable, known, share });
  }

  /** Cancels the heal timer and drops every listener; the detector then ignores updates. */
  close(): void {
    this.#closed = true;
    this.#cancelHeal();
    this.#listeners.clear();
  }

  // Every state change goes through here, so the heal timer and the events cannot disagree with it.
  #set(state: PartitionState, counts: Omit<PartitionSnapshot, 'state'>): void {
    const previous = this.#snapshot.state;
    const { reachable, known, share } = counts;
    this.#snapshot = { state, reachable, known, share };
    if (state === previous) return;
    this.#cancelHeal();
    if (state === 'healing' && this.#healMs > 0) this.#startHeal();
    this.#emit(previous);
    // Checked after the event: a listener may have closed the detector or fed a newer update.
    if (state === 'healing' && this.#healMs === 0 && !this.#closed && this.#snapshot.state === 'healing') {
      this.#set('connected', this.#snapshot);
    }
  }

  #startHeal(): void {
    const handle = this.#timers.setTimeout(() => {
      this.#healTimer = undefined;
      if (!this.#closed && this.#snapshot.state === 'healing') this.#set('connected', this.#snapshot);
    }, this.#healMs);
    // A pending heal must not keep a process alive that has nothing else to do.
    (handle as { unref?: () => unknown } | null)?.unref?.();
    this.#healTimer = handle;
  }

  #cancelHeal(): void {
    if (this.#healTimer === undefined) return;
    this.#timers.clearTimeout(this.#healTimer);
    this.#healTimer = undefined;
  }

  #emit(previous: PartitionState): void {
    const change: PartitionChange = { previous, ...this.#snapshot };
    // Iterates a copy so one listener unsubscribing does not skip the next; one removed
    // mid-event (or by close()) is not called.
    for (const listener of [...this.#listeners]) if (this.#listeners.has(listener)) listener(change);
  }
}

/**
 * When the client asks for the placement table, and what it keeps of it: learnt lazily by the
 * first call that routes, asked again at most every `refreshMs` (in the background of the call
 * that finds it old) and right after a copy holder failed. No timer and no polling: a client
 * nobody calls asks nothing and holds nothing open. Every failure to learn only means no table:
 * calls then go to the configured nodes.
 */
import { nowMs } from '../query/deadline.js';
import type { NodeStatus } from './node-status.js';
import { PlacementTable } from './placement-table.js';

export interface PlacementCacheOptions {
  /** See EngramClientOptions.tableRefreshMs. */
  refreshMs: number;
  /** One Status call (failing over across the configured nodes) within `budgetMs`. */
  fetch(budgetMs: number, signal?: AbortSignal): Promise<NodeStatus>;
  /** Each new table (the client closes channels to members that left it). */
  onTable?(table: PlacementTable): void;
  /** Monotonic ms. Default nowMs. */
  now?: () => number;
}

export class PlacementCache {
  #table: PlacementTable | undefined;
  /** When the table was last asked for (answered or not), monotonic ms. */
  #askedAt = -Infinity;
  /** The Status call in flight, one at a time. */
  #asking: Promise<void> | undefined;
  /** Copy holders that failed, left out until the time given (monotonic ms). */
  readonly #avoidUntil = new Map<string, number>();
  readonly #options: PlacementCacheOptions;
  readonly #now: () => number;

  constructor(options: PlacementCacheOptions) {
    this.#options = options;
    this.#now = options.now ?? nowMs;
  }

  /**
   * The table to route one call with. Without one yet, asks first, within `budgetMs` (unless
   * another call is already asking: this one does not wait for it); with one older than
   * `refreshMs`, returns it and asks again in the background.
   */
  async current(budgetMs: number, signal?: AbortSignal): Promise<PlacementTable | undefined> {
    const due = this.#now() - this.#askedAt >= this.#options.refreshMs;
    if (due && !this.#asking && budgetMs > 0) {
      const asking = this.#ask(budgetMs, this.#table ? undefined : signal);
      if (!this.#table) await asking;
    }
    return this.#table;
  }

  /** A Status answer, from the cache's own call or the caller's `status()`. */
  learn(status: NodeStatus): void {
    this.#askedAt = this.#now();
    this.#table = PlacementTable.fromStatus(status, this.#table);
    this.#options.onTable?.(this.#table);
  }

  /** A copy holder failed a call: leave it out for `refreshMs`, and ask for the table now. */
  failed(address: string, budgetMs: number): void {
    this.#avoidUntil.set(address, this.#now() + this.#options.refreshMs);
    if (!this.#asking) void this.#ask(budgetMs, undefined);
  }

  /** Whether to leave `address` out of routing (it failed less than `refreshMs` ago). */
  avoided(address: string): boolean {
    const until = this.#avoidUntil.get(address);
    if (until === undefined) return false;
    if (this.#now() < until) return true;
    this.#avoidUntil.delete(address);
    return false;
  }

  #ask(budgetMs: number, signal: AbortSignal | undefined): Promise<void> {
    this.#askedAt = this.#now();
    // Never rejects: a background ask has nobody to tell.
    const asking = this.#options.fetch(budgetMs, signal).then((status) => this.learn(status)).catch(() => undefined).finally(() => {
      this.#asking = undefined;
    });
    this.#asking = asking;
    return asking;
  }
}

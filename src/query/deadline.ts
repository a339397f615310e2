/**
 * All time arithmetic of the query path in one place (after grpc-js's `deadline.ts`): deadlines
 * live on the monotonic clock; wall-clock time appears only where a gRPC deadline is read or set.
 */
import { performance } from 'node:perf_hooks';

/** Monotonic milliseconds (not wall clock: deadlines must not jump with NTP). */
export function nowMs(): number {
  return performance.now();
}

export class Deadline {
  readonly startedAt: number;
  readonly at: number;

  constructor(readonly budgetMs: number, startedAt = nowMs()) {
    this.startedAt = startedAt;
    this.at = startedAt + budgetMs;
  }

  /**
   * The monotonic deadline of a wall-clock instant (ms since the epoch, as grpc-js gives a call's
   * deadline), starting now. An instant already past is a deadline of 0 ms.
   */
  static fromWallClock(epochMs: number, now = nowMs(), wallNow = Date.now()): Deadline {
    return new Deadline(Math.max(0, epochMs - wallNow), now);
  }

  /** The earlier of two deadlines (undefined counts as none). */
  static earliest(a: Deadline, b: Deadline | undefined): Deadline {
    return b !== undefined && b.at < a.at ? b : a;
  }

  /** A deadline `budgetMs` from `now`, never later than this one. */
  within(budgetMs: number, now = nowMs()): Deadline {
    return now + budgetMs <= this.at ? new Deadline(budgetMs, now) : new Deadline(Math.max(0, this.at - now), now);
  }

  /** ms left, never negative. */
  remainingMs(now = nowMs()): number {
    return Math.max(0, this.at - now);
  }

  expired(now = nowMs()): boolean {
    return now >= this.at;
  }

  /** ms since the start. */
  elapsedMs(now = nowMs()): number {
    return now - this.startedAt;
  }

  /** The same instant as a wall-clock time (ms since the epoch), as grpc-js deadlines want it. */
  wallClock(now = nowMs()): number {
    return Date.now() + this.remainingMs(now);
  }
}

/**
 * How much earlier than its caller's gRPC deadline a server answers, ms: the answer (a partial
 * result, or an error with its coverage) must be gathered and travel back before the caller's
 * own timer fires and turns it into a bare DEADLINE_EXCEEDED. A tenth of the budget, at most
 * 100 ms: on a loaded 2-core machine the timers and the gather after the scatter's deadline
 * took more than 50 ms (test/query-latency.test.ts).
 */
export function answerMarginMs(budgetMs: number): number {
  return Math.min(100, budgetMs / 10);
}

/**
 * All time arithmetic of the query path in one place: a deadline is fixed once per partition when
 * the scatter starts, and every later step asks it how much time is left.
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

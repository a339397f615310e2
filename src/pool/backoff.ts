/**
 * Exponential backoff of one address: each transport failure doubles the wait before the next
 * dial (initial → max), a successful call resets it. Pure state over an injected clock, no timers:
 * nothing needs to happen when a backoff ends, the next acquire simply dials again.
 */
export class Backoff {
  #nextDelayMs: number;
  #retryAt = -Infinity;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {
    this.#nextDelayMs = initialMs;
  }

  /** Records a failure at `now`; returns the wait before the next dial, ms. */
  fail(now: number): number {
    const delay = this.#nextDelayMs;
    this.#retryAt = now + delay;
    // Doubling from 0 stays 0, which is what initialBackoffMs: 0 asks for.
    this.#nextDelayMs = Math.min(this.maxMs, delay * 2);
    return delay;
  }

  succeed(): void {
    this.#nextDelayMs = this.initialMs;
    this.#retryAt = -Infinity;
  }

  /** ms left to wait at `now`; 0 when the address may be dialled. */
  remainingMs(now: number): number {
    return Math.max(0, this.#retryAt - now);
  }
}

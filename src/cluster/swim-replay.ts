/**
 * Replay protection of gossip datagrams: a sliding window per (sender, epoch), as IPsec and
 * DTLS do. The receiver keeps the highest counter seen and a 64-bit bitmap of the 64 counters
 * below it; a counter is accepted once if it is above the window or inside it and unseen.
 *
 * Why a window rather than "strictly increasing": a member's counter is shared by all the
 * datagrams it sends, so any receiver sees gaps, and UDP may reorder; a strict rule would drop a
 * datagram overtaken by a later one. The trade-off is that a datagram more than 64 counters
 * behind the newest one seen from its sender is dropped even if genuine — SWIM treats a lost
 * datagram as it treats any other loss (a retried probe, a re-sent update).
 *
 * What it does not cover: the window lives as long as the receiving process. A member that
 * restarts forgets it, so a datagram captured before could be accepted once by the restarted
 * member, and a datagram addressed to one member can be accepted once by another member that
 * has not yet seen that counter from the sender (the destination is not in the envelope, because
 * seeds may be given by another name than the address a member binds). Both replays carry only
 * what the sender really said, recently; foca's incarnation numbers keep them from undoing newer
 * state.
 */

/** Counters below the highest one seen that are still accepted (once each). */
export const REPLAY_WINDOW = 64;
/** (sender, epoch) windows kept at most; the least recently used is forgotten first. */
export const MAX_REPLAY_WINDOWS = 4096;

const MASK = (1n << BigInt(REPLAY_WINDOW)) - 1n;

interface Window {
  highest: bigint;
  /** Bit i set: counter `highest - i` was seen. */
  seen: bigint;
}

export class ReplayGuard {
  readonly #windows = new Map<string, Window>();
  readonly #max: number;

  constructor(maxWindows = MAX_REPLAY_WINDOWS) {
    this.#max = maxWindows;
  }

  /** Whether this (sender, epoch, counter) is new; records it when it is. */
  accept(sender: string, epoch: bigint, counter: bigint): boolean {
    const key = `${epoch.toString(16)} ${sender}`;
    const w = this.#windows.get(key);
    if (!w) {
      // Only authenticated datagrams get here, so a stranger cannot flood this map.
      if (this.#windows.size >= this.#max) this.#windows.delete(this.#windows.keys().next().value!);
      this.#windows.set(key, { highest: counter, seen: 1n });
      return true;
    }
    // Map order is insertion order: re-inserting keeps the live windows at the end.
    this.#windows.delete(key);
    this.#windows.set(key, w);
    if (counter > w.highest) {
      const shift = counter - w.highest;
      w.seen = shift >= BigInt(REPLAY_WINDOW) ? 1n : ((w.seen << shift) | 1n) & MASK;
      w.highest = counter;
      return true;
    }
    const age = w.highest - counter;
    if (age >= BigInt(REPLAY_WINDOW)) return false;
    const bit = 1n << age;
    if ((w.seen & bit) !== 0n) return false;
    w.seen |= bit;
    return true;
  }

  /** Windows held (for tests). */
  get size(): number {
    return this.#windows.size;
  }
}

/**
 * Which copy of a space a routed call tries first, and which next. Kept to what this client can
 * see for itself, with no shared state with the nodes:
 * - a call that must reach the space group's leader (Consolidate, Store, a `leader` read) tries
 *   the table's primary first, the leader hint: a copy that does not lead forwards the write,
 *   hands the run on or asks the leader, one hop more, so the others follow as fallbacks;
 * - any other call spreads load: `alive` copies before `suspect` ones, then the copy with the
 *   fewest calls in flight from this client, ties broken in turn (`turn` grows per call), so
 *   sequential calls alternate between copies and concurrent ones fill the idle copy first.
 * Copies to avoid (one that just failed) are left out; the configured nodes remain behind them.
 */
import type { CopyHolder } from './placement-table.js';

export interface CopyChoice {
  /** The call needs the space's leader (the primary is the hint). */
  leader: boolean;
  /** Calls this client has in flight to `address`. */
  inFlight(address: string): number;
  /** A copy to leave out (it failed a moment ago). */
  avoid(address: string): boolean;
  /** A counter the caller increases per call: breaks ties in turn. */
  turn: number;
}

/** `copies` (primary first, as the table lists them) in the order to try them. */
export function orderCopies(copies: readonly CopyHolder[], choice: CopyChoice): CopyHolder[] {
  const n = copies.length;
  const ranked = copies
    .map((copy, i) => ({
      copy,
      leader: choice.leader && copy.role === 'primary' ? 0 : 1,
      suspect: copy.state === 'suspect' ? 1 : 0,
      load: choice.inFlight(copy.address),
      turn: (((i - choice.turn) % n) + n) % n,
    }))
    .filter((r) => !choice.avoid(r.copy.address));
  ranked.sort((a, b) => a.leader - b.leader || a.suspect - b.suspect || a.load - b.load || a.turn - b.turn);
  return ranked.map((r) => r.copy);
}

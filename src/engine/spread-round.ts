/**
 * One round of a Spread over several spaces, as one space runs it (DESIGN §10).
 *
 * The single-space Spread (spread.ts) advances hop by hop: every frontier memory passes
 * `pulse × (1 − decay) × weight` along its edges, the pulses a memory receives in that hop are
 * summed, then clamped to 1, then compared with the threshold. A memory of space B can receive
 * pulses from space A in the same hop as from B itself, and the clamp and the threshold apply to
 * the sum of both: so spaces must meet after every hop, and a round is exactly one hop.
 *
 * Round `hop` of a space takes its frontier after hop − 1 (memory → pulse) and the pulses that
 * arrived through cross-space edges for this hop (already summed over the sending spaces by the
 * coordinator), and answers the memories it reached in this hop with their pulse (its next
 * frontier, and what this hop adds to their activation), plus, unless it is the last hop, the
 * pulses leaving its new frontier through cross-space edges, summed per target memory. Hop 0
 * takes the seeds: it answers those that exist, at 1, and the pulses leaving them.
 *
 * No state stays on the node between rounds: the coordinator sends the frontier back, so any
 * copy can answer any round, and a hedged or retried round needs nothing more.
 */
import { InvalidArgumentError } from '../errors.js';
import { encodePulses, pulseRows, type PulseColumns } from '../wire/columns.js';
import { MAX_SPREAD_HOPS } from './limits.js';
import type { SpaceState } from './space-state.js';

export interface SpreadRoundInput {
  /** 0: the seeds; 1..MAX_SPREAD_HOPS: that hop. */
  hop: number;
  /** Share of a pulse lost per hop, in [0, 1]. */
  decay: number;
  /** Smallest summed pulse that reaches a memory, in [0, 1]. */
  threshold: number;
  /** Hop 0: the seed ids (values unused); later: this space's frontier after hop − 1. */
  frontier: PulseColumns;
  /** Pulses arriving through cross-space edges in this hop, summed per memory (hop ≥ 1). */
  incoming: PulseColumns;
  /** Compute the pulses leaving for the next hop (false on the last hop). */
  emit: boolean;
  /** The spaces of the Spread: a pulse toward any other space is not sent. Empty: every space. */
  spaces: readonly string[];
}

export interface SpreadRoundOutput {
  /** Memories reached in this hop with their pulse (hop 0: the seeds that exist, at 1). */
  reached: PulseColumns;
  /** Pulses for the next hop per target space, summed per target memory and clamped to 1; by space id. */
  leaving: { space: string; pulses: PulseColumns }[];
}

function rowsOf(field: string, c: PulseColumns): { ids: string[]; values: Float64Array } {
  const rows = pulseRows(c);
  if (typeof rows === 'string') throw new InvalidArgumentError(field, `${rows}`, 'must be well-formed pulse columns');
  return rows;
}

export function spreadRound(state: SpaceState, q: SpreadRoundInput): SpreadRoundOutput {
  const { hop, decay, threshold } = q;
  if (!Number.isInteger(hop) || hop < 0 || hop > MAX_SPREAD_HOPS) throw new InvalidArgumentError('hop', hop, `must be an integer in 0..${MAX_SPREAD_HOPS}`);
  if (!(decay >= 0 && decay <= 1)) throw new InvalidArgumentError('decay', decay, 'must be in [0, 1]');
  if (!(threshold >= 0 && threshold <= 1)) throw new InvalidArgumentError('threshold', threshold, 'must be in [0, 1]');
  const frontier = rowsOf('frontier', q.frontier);
  const incomingRows = rowsOf('incoming', q.incoming);
  const table = state.memories;
  const keep = 1 - decay;
  const reached: number[] = [];
  const pulses: number[] = [];
  if (hop === 0) {
    // As spread.ts: seeds start at 1, an unknown or repeated seed is ignored.
    const seen = new Set<number>();
    for (const id of frontier.ids) {
      const slot = table.slotOf(id);
      if (slot === undefined || seen.has(slot)) continue;
      seen.add(slot);
      reached.push(slot);
      pulses.push(1);
    }
  } else {
    const { offsets, targets, weights } = state.adjacency();
    const incoming = new Float64Array(table.size);
    const seen = new Uint8Array(table.size);
    const touched: number[] = [];
    const add = (v: number, x: number) => {
      if (seen[v] === 0) {
        seen[v] = 1;
        touched.push(v);
      }
      incoming[v] = incoming[v]! + x;
    };
    frontier.ids.forEach((id, i) => {
      // A frontier memory this copy does not hold (it lags the copy that answered the last
      // round) passes nothing on, as a memory without edges.
      const u = table.slotOf(id);
      if (u === undefined) return;
      const p = frontier.values[i]! * keep;
      for (let e = offsets[u]!, end = offsets[u + 1]!; e < end; e++) add(targets[e]!, p * weights[e]!);
    });
    incomingRows.ids.forEach((id, i) => {
      // An edge to a memory not stored is not part of the graph (as in spread.ts).
      const v = table.slotOf(id);
      if (v !== undefined) add(v, incomingRows.values[i]!);
    });
    for (const v of touched) {
      const x = Math.min(incoming[v]!, 1);
      if (x < threshold || x === 0) continue;
      reached.push(v);
      pulses.push(x);
    }
  }
  const ids = table.ids;
  return {
    reached: encodePulses(reached.map((s) => ids[s]!), Float64Array.from(pulses)),
    leaving: q.emit ? leavingPulses(state, reached, pulses, keep, q.spaces) : [],
  };
}

/** Pulses the reached memories send through cross-space edges, summed per (space, memory). */
function leavingPulses(state: SpaceState, reached: number[], pulses: number[], keep: number, spaces: readonly string[]): SpreadRoundOutput['leaving'] {
  const cross = state.crossAdjacency();
  if (cross.to.length === 0) return [];
  const wanted = spaces.length > 0 ? new Set(spaces) : undefined;
  const sums = cross.spaces.map((s) => (wanted === undefined || wanted.has(s) ? new Map<string, number>() : undefined));
  reached.forEach((u, i) => {
    const p = pulses[i]! * keep;
    for (let e = cross.offsets[u]!, end = cross.offsets[u + 1]!; e < end; e++) {
      const to = sums[cross.space[e]!];
      if (to === undefined) continue;
      const id = cross.to[e]!;
      to.set(id, (to.get(id) ?? 0) + p * cross.weights[e]!);
    }
  });
  const out: SpreadRoundOutput['leaving'] = [];
  cross.spaces.forEach((space, s) => {
    const to = sums[s];
    if (to === undefined || to.size === 0) return;
    // Clamping a part of a sum of non-negative pulses does not change the clamped whole.
    const values = Float64Array.from(to.values(), (x) => Math.min(x, 1));
    out.push({ space, pulses: encodePulses([...to.keys()], values) });
  });
  return out.sort((a, b) => (a.space < b.space ? -1 : a.space > b.space ? 1 : 0));
}

/**
 * Spread: given seed memory ids, returns the activation map reached over the space's
 * associations. Seeds start at 1.0; each hop (default 3, at most 10) passes `pulse × weight ×
 * (1 − decay)` (decay default 0.15) along every outgoing same-space edge, summed per target and
 * clamped to 1; a node's activation is the clamped sum of the pulses it received. A pulse below
 * `threshold` (default 0.02) is neither propagated nor reported. Unknown seed ids are ignored;
 * cross-space edges are skipped. Rows: seeds and every reached memory, activation desc, id asc.
 */
import { InvalidArgumentError } from '../errors.js';
import { bytesOf, encodeStrings, type SpreadColumns } from '../wire/columns.js';
import { compareIds } from './ids.js';
import { DEFAULT_SPREAD_DECAY, DEFAULT_SPREAD_HOPS, DEFAULT_SPREAD_THRESHOLD, MAX_SPREAD_HOPS, MAX_SPREAD_SEEDS } from './limits.js';
import { intParam, numberParam } from './params.js';
import type { SpaceState } from './space-state.js';

/** A spread query on one space. */
export interface SpreadInput {
  /** Memory ids that start at activation 1; unknown ids are ignored. At most MAX_SPREAD_SEEDS (10,000). */
  seeds: string[];
  /** Hops, 0..MAX_SPREAD_HOPS (10); default 3. 0 reports the seeds only. */
  hops?: number;
  /** Share of a pulse lost per hop, in [0, 1]; default 0.15. */
  decay?: number;
  /** Smallest pulse propagated and reported, in [0, 1]; default 0.02. */
  threshold?: number;
}

export function spread(state: SpaceState, q: SpreadInput): SpreadColumns {
  const seeds = q.seeds;
  if (!Array.isArray(seeds)) throw new InvalidArgumentError('seeds', seeds, 'must be an array of memory ids');
  if (seeds.length > MAX_SPREAD_SEEDS) throw new InvalidArgumentError('seeds', seeds, `at most ${MAX_SPREAD_SEEDS}`);
  seeds.forEach((s, i) => {
    if (typeof s !== 'string') throw new InvalidArgumentError(`seeds[${i}]`, s, 'must be a string');
  });
  const hops = intParam('hops', q.hops, DEFAULT_SPREAD_HOPS, 0, MAX_SPREAD_HOPS);
  const decay = numberParam('decay', q.decay, DEFAULT_SPREAD_DECAY, 0, 1);
  const threshold = numberParam('threshold', q.threshold, DEFAULT_SPREAD_THRESHOLD, 0, 1);

  const table = state.memories;
  const n = table.size;
  const { offsets, targets, weights } = state.adjacency();
  const activation = new Float64Array(n);
  const pulse = new Float64Array(n);
  const incoming = new Float64Array(n);
  const touchedAt = new Int32Array(n);
  const active: number[] = [];
  let frontier: number[] = [];
  for (const id of seeds) {
    const slot = table.slotOf(id);
    if (slot === undefined || activation[slot] !== 0) continue;
    activation[slot] = 1;
    pulse[slot] = 1;
    active.push(slot);
    frontier.push(slot);
  }
  const keep = 1 - decay;
  for (let hop = 1; hop <= hops && frontier.length > 0; hop++) {
    const touched: number[] = [];
    for (const u of frontier) {
      const p = pulse[u]! * keep;
      pulse[u] = 0;
      for (let e = offsets[u]!, end = offsets[u + 1]!; e < end; e++) {
        const v = targets[e]!;
        if (touchedAt[v] !== hop) {
          touchedAt[v] = hop;
          touched.push(v);
        }
        incoming[v] = incoming[v]! + p * weights[e]!;
      }
    }
    frontier = [];
    for (const v of touched) {
      const x = Math.min(incoming[v]!, 1);
      incoming[v] = 0;
      if (x < threshold || x === 0) continue;
      if (activation[v] === 0) active.push(v);
      activation[v] = Math.min(activation[v]! + x, 1);
      pulse[v] = x;
      frontier.push(v);
    }
  }
  return spreadColumns(state, active, activation);
}

function spreadColumns(state: SpaceState, active: number[], activation: Float64Array): SpreadColumns {
  const ids = state.memories.ids;
  // Sort on the f32 values sent, so equal-looking activations come out in id order.
  const rounded = active.map((slot) => Math.fround(activation[slot]!));
  const order = active.map((_, i) => i).sort((a, b) => rounded[b]! - rounded[a]! || compareIds(ids[active[a]!]!, ids[active[b]!]!));
  const out = new Float32Array(order.length);
  const outIds = order.map((i, row) => {
    out[row] = rounded[i]!;
    return ids[active[i]!]!;
  });
  const col = encodeStrings(outIds);
  return { ids: col.blob, idOffsets: col.offsets, activation: bytesOf(out) };
}

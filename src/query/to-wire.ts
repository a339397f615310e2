/** The library's query model → wire messages (what a client sends). */
import type { Cue, Query, QueryOptions } from './types.js';

function cueToWire(cue: Cue): Record<string, unknown> {
  return 'text' in cue ? { text: cue.text } : { embedding: { values: Array.from(cue.embedding) } };
}

export function queryToWire(q: Query): Record<string, unknown> {
  switch (q.kind) {
    case 'recall':
      return { recall: { space: q.space, cue: cueToWire(q.cue), limit: q.limit, threshold: q.threshold } };
    case 'spread':
      if (q.spaces !== undefined) {
        const across = q.spaces === 'all' ? { allSpaces: true } : { spaces: q.spaces };
        return { spread: { ...across, seeds: q.seeds, hops: q.hops, decay: q.decay, threshold: q.threshold } };
      }
      return { spread: { space: q.space, seeds: q.seeds, hops: q.hops, decay: q.decay, threshold: q.threshold } };
    case 'complete':
      return { complete: { space: q.space, values: Array.from(q.values), known: q.known, neighbours: q.neighbours } };
    case 'consolidate':
      return { consolidate: { space: q.space, threshold: q.threshold } };
    case 'imagine':
      return { imagine: { spaces: q.spaces, cue: cueToWire(q.cue), limit: q.limit, novelty: q.novelty } };
  }
}

export function optionsToWire(o: QueryOptions): Record<string, unknown> {
  return {
    timeoutMs: o.timeoutMs,
    allowPartial: o.allowPartial,
    minCoverage: o.minCoverage,
    ...(o.consistency !== undefined ? { consistency: o.consistency === 'leader' ? 'CONSISTENCY_LEADER' : 'CONSISTENCY_ANY' } : {}),
    ...(o.preference !== undefined ? { preference: o.preference } : {}),
  };
}

/** Wire query messages → the library's query model, with typed errors for missing parts. */
import { InvalidArgumentError } from '../errors.js';
import type { CueMsg, QueryMsg, QueryOptionsMsg } from '../wire/messages.js';
import type { Consistency, Cue, Query, QueryOptions } from './types.js';

function cueFromWire(field: string, cue: CueMsg | null | undefined): Cue {
  if (cue?.kind === 'embedding' && cue.embedding) return { embedding: Float32Array.from(cue.embedding.values) };
  if (cue?.kind === 'text' && typeof cue.text === 'string') return { text: cue.text };
  throw new InvalidArgumentError(field, cue ?? null, 'a cue needs an embedding or a text');
}

/** Converts a decoded `Query` message; throws InvalidArgumentError when no query type is set. */
export function queryFromWire(msg: QueryMsg | null | undefined): Query {
  switch (msg?.kind) {
    case 'recall': {
      const q = msg.recall!;
      return {
        kind: 'recall',
        space: q.space,
        cue: cueFromWire('query.recall.cue', q.cue),
        ...(q.limit !== undefined ? { limit: q.limit } : {}),
        ...(q.threshold !== undefined ? { threshold: q.threshold } : {}),
      };
    }
    case 'spread': {
      const q = msg.spread!;
      const spaces = q.allSpaces ? 'all' : q.spaces?.length ? q.spaces : undefined;
      if (spaces !== undefined && q.space) throw new InvalidArgumentError('query.spread.space', q.space, 'leave it empty in a Spread over several spaces (spaces or all_spaces)');
      if (q.allSpaces && q.spaces?.length) throw new InvalidArgumentError('query.spread.spaces', q.spaces, 'leave it empty with all_spaces');
      return {
        kind: 'spread',
        ...(spaces !== undefined ? { spaces } : { space: q.space }),
        seeds: q.seeds,
        ...(q.hops !== undefined ? { hops: q.hops } : {}),
        ...(q.decay !== undefined ? { decay: q.decay } : {}),
        ...(q.threshold !== undefined ? { threshold: q.threshold } : {}),
      };
    }
    case 'complete': {
      const q = msg.complete!;
      return {
        kind: 'complete',
        space: q.space,
        values: Float32Array.from(q.values),
        known: q.known,
        ...(q.neighbours !== undefined ? { neighbours: q.neighbours } : {}),
      };
    }
    case 'consolidate': {
      const q = msg.consolidate!;
      return { kind: 'consolidate', space: q.space, ...(q.threshold !== undefined ? { threshold: q.threshold } : {}) };
    }
    case 'imagine': {
      const q = msg.imagine!;
      return {
        kind: 'imagine',
        spaces: q.spaces,
        cue: cueFromWire('query.imagine.cue', q.cue),
        ...(q.limit !== undefined ? { limit: q.limit } : {}),
        ...(q.novelty !== undefined ? { novelty: q.novelty } : {}),
      };
    }
    default:
      throw new InvalidArgumentError('query', msg?.kind ?? null, 'one of recall, spread, complete, consolidate, imagine must be set');
  }
}

/** Converts decoded query options (unset fields stay unset; an explicit 0 stays 0). */
export function optionsFromWire(msg: QueryOptionsMsg | null | undefined): QueryOptions {
  if (!msg) return {};
  return {
    ...(msg.timeoutMs !== undefined ? { timeoutMs: msg.timeoutMs } : {}),
    ...(msg.allowPartial !== undefined ? { allowPartial: msg.allowPartial } : {}),
    ...(msg.minCoverage !== undefined ? { minCoverage: msg.minCoverage } : {}),
    ...(msg.consistency !== undefined ? { consistency: consistencyFromWire(msg.consistency) } : {}),
    ...(msg.preference ? { preference: preferenceFromWire(msg.preference) } : {}),
  };
}

function preferenceFromWire(wire: string): 'local' {
  if (wire === 'local') return 'local';
  throw new InvalidArgumentError('options.preference', wire, 'must be "local" or unset');
}

/** proto-loader hands an enum number it does not know through as a number: refuse it. */
export function consistencyFromWire(wire: string | number): Consistency {
  if (wire === 'CONSISTENCY_LEADER') return 'leader';
  if (wire === 'CONSISTENCY_ANY' || wire === 'CONSISTENCY_UNSPECIFIED') return 'any';
  throw new InvalidArgumentError('options.consistency', wire, 'must be CONSISTENCY_ANY or CONSISTENCY_LEADER');
}

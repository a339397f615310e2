/** Runs the single-partition form of a query on this node's engine. */
import type { Engine } from '../engine/engine.js';
import { InvalidArgumentError } from '../errors.js';
import type { ConsolidateInput, ConsolidateOutput } from '../engine/consolidate.js';
import type { PartitionAnswer, PartitionQuery } from './types.js';

/**
 * Answers `query` for partition `space` from the local engine (throws the engine's typed errors).
 * `deadline` (ms since the epoch) bounds a consolidation, which stops there with what it found.
 * `consolidate` replaces the engine's own (a cluster writes the patterns through the space's
 * Raft group, not straight to this copy's log).
 */
export async function answerFromEngine(
  engine: Engine,
  query: PartitionQuery,
  space: string,
  options: { deadline?: number; consolidate?: (space: string, q: ConsolidateInput) => Promise<ConsolidateOutput> } = {},
): Promise<PartitionAnswer> {
  switch (query.kind) {
    case 'recall':
      return { kind: 'recall', columns: engine.recall(space, query) };
    case 'spread':
      if (query.spaces !== undefined) throw new InvalidArgumentError('query.spread.spaces', query.spaces, 'a copy answers a Spread over several spaces round by round (spread_round)');
      return { kind: 'spread', columns: engine.spread(space, query) };
    case 'spread-round':
      return { kind: 'spread-round', round: engine.spreadRound(space, query) };
    case 'complete':
      return { kind: 'complete', complete: engine.complete(space, query) };
    case 'consolidate':
    {
      const q = { ...query, ...(options.deadline !== undefined ? { deadline: stopBefore(options.deadline) } : {}) };
      return { kind: 'consolidate', consolidate: await (options.consolidate ? options.consolidate(space, q) : engine.consolidate(space, q)) };
    }
    case 'imagine':
      return { kind: 'imagine', columns: engine.imagine(space, query) };
  }
}

/**
 * When a consolidation should stop for its answer to arrive before `deadline`: a tenth of the
 * time left before it, at most 50 ms, for the durable write and the trip back.
 */
function stopBefore(deadline: number): number {
  return deadline - Math.min(50, Math.max(0, (deadline - Date.now()) / 10));
}

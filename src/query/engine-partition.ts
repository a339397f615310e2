/** Runs the single-partition form of a query on this node's engine. */
import type { Engine } from '../engine/engine.js';
import type { PartitionAnswer, Query } from './types.js';

/** Answers `query` for partition `space` from the local engine (throws the engine's typed errors). */
export async function answerFromEngine(engine: Engine, query: Query, space: string): Promise<PartitionAnswer> {
  switch (query.kind) {
    case 'recall':
      return { kind: 'recall', columns: engine.recall(space, query) };
    case 'spread':
      return { kind: 'spread', columns: engine.spread(space, query) };
    case 'complete':
      return { kind: 'complete', complete: engine.complete(space, query) };
    case 'consolidate':
      return { kind: 'consolidate', consolidate: await engine.consolidate(space, query) };
    case 'imagine':
      return { kind: 'imagine', columns: engine.imagine(space, query) };
  }
}

/**
 * Executes a query on this node alone: every partition from the local engine, merged through
 * the same gather as a distributed query, so a one-node answer carries a full coverage block.
 */
import { performance } from 'node:perf_hooks';
import { EngramError } from '../errors.js';
import type { Engine } from '../engine/engine.js';
import { answerFromEngine } from './engine-partition.js';
import type { QueryExecutor } from './executor.js';
import type { CopyRole } from './coverage.js';
import { gatherAnswers } from './gather-answers.js';
import type { PartitionOutcome } from './outcome.js';
import type { QueryResult } from './result.js';
import { forPartition, querySpaces, type Query, type QueryOptions } from './types.js';

export class LocalExecutor implements QueryExecutor {
  /**
   * @param roleOf which copy of a space this node holds (default: the primary, as on a node of
   *   its own).
   */
  constructor(
    private readonly engine: Engine,
    private readonly nodeId: string,
    private readonly roleOf: (space: string) => CopyRole = () => 'primary',
  ) {}

  async execute(query: Query, options: QueryOptions = {}): Promise<QueryResult> {
    const outcomes: PartitionOutcome[] = [];
    const spaces = querySpaces(query);
    for (const [index, space] of spaces.entries()) {
      const started = performance.now();
      try {
        const deadline = options.timeoutMs !== undefined ? Date.now() + options.timeoutMs : undefined;
        const answer = await answerFromEngine(this.engine, forPartition(query, space), space, deadline !== undefined ? { deadline } : {});
        outcomes.push({ index, partition: space, node: this.nodeId, role: this.roleOf(space), status: 'ok', reason: '', latencyMs: performance.now() - started, answer });
      } catch (err) {
        // Bad requests and unknown spaces fail the query; anything else fails the partition only.
        if (err instanceof EngramError) throw err;
        outcomes.push({ index, partition: space, node: this.nodeId, role: this.roleOf(space), status: 'error', reason: String(err), latencyMs: performance.now() - started });
      }
    }
    return gatherAnswers(query, outcomes, options);
  }
}

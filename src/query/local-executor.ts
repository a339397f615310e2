/**
 * Executes a query on this node alone: the distributed executor over a one-node view of the
 * engine's spaces, so a one-node answer takes the same plan, deadline and gather as a cluster's
 * and carries the same coverage block.
 */
import type { ClusterView, Member, SpaceAssignment } from '../cluster/cluster-view.js';
import type { Engine } from '../engine/engine.js';
import type { ExecuteContext } from './context.js';
import { DistributedExecutor } from './distributed-executor.js';
import { answerFromEngine } from './engine-partition.js';
import type { QueryExecutor } from './executor.js';
import type { QueryResult } from './result.js';
import type { Query, QueryOptions } from './types.js';

/** The cluster as a node of its own sees it: itself, holding every space its engine has. */
class OneNodeView implements ClusterView {
  readonly #self: Member;
  constructor(private readonly engine: Engine, nodeId: string) {
    this.#self = { id: nodeId, grpcAddress: '', gossipAddress: '', state: 'alive', incarnation: 1 };
  }
  self(): Member {
    return this.#self;
  }
  members(): Member[] {
    return [this.#self];
  }
  member(id: string): Member | undefined {
    return id === this.#self.id ? this.#self : undefined;
  }
  assignment(space: string): SpaceAssignment | undefined {
    if (!this.engine.hasSpace(space)) return undefined;
    return { space, primary: this.#self.id, replicas: [], dimension: this.engine.spaceInfo(space).dimension, version: 0 };
  }
  spaces(): string[] {
    return this.engine.spaces().map((s) => s.id);
  }
  isPartitioned(): boolean {
    return false;
  }
}

export class LocalExecutor implements QueryExecutor {
  readonly #inner: DistributedExecutor;

  constructor(engine: Engine, nodeId: string) {
    this.#inner = new DistributedExecutor({
      view: new OneNodeView(engine, nodeId),
      local: (query, space, deadline) => answerFromEngine(engine, query, space, deadline !== undefined ? { deadline } : {}),
      // One copy per space: nothing to rank or hedge.
      ranking: false,
      hedging: { enabled: false },
    });
  }

  execute(query: Query, options: QueryOptions = {}, context: ExecuteContext = {}): Promise<QueryResult> {
    return this.#inner.execute(query, options, context);
  }
}

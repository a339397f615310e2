/** What the node's public ExecuteQuery calls: any executor that turns a query into a result. */
import type { ExecuteContext } from './context.js';
import type { QueryResult } from './result.js';
import type { Query, QueryOptions } from './types.js';

export interface QueryExecutor {
  /** `context`: the caller's deadline and cancellation (DESIGN §8). */
  execute(query: Query, options?: QueryOptions, context?: ExecuteContext): Promise<QueryResult>;
}

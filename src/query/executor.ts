/** What the node's public ExecuteQuery calls: any executor that turns a query into a result. */
import type { QueryResult } from './result.js';
import type { Query, QueryOptions } from './types.js';

export interface QueryExecutor {
  execute(query: Query, options?: QueryOptions): Promise<QueryResult>;
}

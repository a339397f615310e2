/** Handlers of the node-to-node `EngramInternal` service: a partition answered columnar. */
import type { QueryMsg } from '../wire/messages.js';
import { queryFromWire } from '../query/from-wire.js';
import { answerFromEngine } from '../query/engine-partition.js';
import { forPartition } from '../query/types.js';
import { partitionToWire } from '../wire/partition-codec.js';
import type { EngramNode, Handler } from './engram-node.js';

export function internalHandlers(node: EngramNode): Record<string, Handler> {
  return {
    async ExecuteLocal(req: { query: QueryMsg | null; partition: string }) {
      const query = forPartition(queryFromWire(req.query), req.partition);
      return partitionToWire(req.partition, await answerFromEngine(node.engine, query, req.partition));
    },
  };
}

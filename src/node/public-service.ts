/** Handlers of the public `Engram` service: create space, store, execute query, status. */
import { InvalidArgumentError } from '../errors.js';
import type { AssociationMsg, MemoryMsg, QueryMsg, QueryOptionsMsg } from '../wire/messages.js';
import { optionsFromWire, queryFromWire } from '../query/from-wire.js';
import { resultToWire } from '../query/result-wire.js';
import type { QueryExecutor } from '../query/executor.js';
import type { EngramNode, Handler } from './engram-node.js';
import { VERSION } from './version.js';
import { checkSpaceId } from '../engine/ids.js';
import { DEFAULT_DIMENSION, MAX_DIMENSION } from '../engine/limits.js';

interface CreateSpaceMsg { space: string; dimension: number; primary: string; replicas: string[] }
interface StoreMsg { space: string; memories: MemoryMsg[]; associations: AssociationMsg[]; ack: string }

export function publicHandlers(node: EngramNode, executor: QueryExecutor): Record<string, Handler> {
  return {
    async CreateSpace(req: CreateSpaceMsg) {
      if (node.cluster) {
        checkSpaceId(req.space);
        const dimension = req.dimension === 0 ? DEFAULT_DIMENSION : req.dimension;
        if (!Number.isInteger(dimension) || dimension < 1 || dimension > MAX_DIMENSION) {
          throw new InvalidArgumentError('dimension', req.dimension, `must be 1..${MAX_DIMENSION}`);
        }
        const out = await node.cluster.createSpace(req.space, dimension, {
          ...(req.primary ? { primary: req.primary } : {}),
          ...(req.replicas.length > 0 ? { replicas: req.replicas } : {}),
        });
        return { space: req.space, dimension, created: out.created, primary: out.assignment.primary, replicas: out.assignment.replicas };
      }
      // A node of its own: explicit placement may only name this node.
      for (const [field, value] of [['primary', req.primary], ...req.replicas.map((r, i) => [`replicas[${i}]`, r])] as [string, string][]) {
        if (value !== '' && value !== node.id) throw new InvalidArgumentError(field, value, 'not a member of this cluster');
      }
      const out = await node.engine.createSpace(req.space, req.dimension === 0 ? undefined : req.dimension);
      return { space: req.space, dimension: out.dimension, created: out.created, primary: node.id, replicas: [] };
    },

    async Store(req: StoreMsg) {
      const memories = req.memories.map((m) => ({
        id: m.id,
        embedding: Float32Array.from(m.embedding),
        content: m.content,
        ...(m.confidence ? { confidence: { lower: m.confidence.lower, upper: m.confidence.upper } } : {}),
        ...(m.createdAt ? { createdAt: m.createdAt } : {}),
      }));
      const associations = req.associations.map((a) => ({
        from: a.from,
        to: a.to,
        weight: a.weight,
        ...(a.toSpace ? { toSpace: a.toSpace } : {}),
      }));
      const out = await node.engine.store(req.space, { memories, associations });
      return { memories: out.memories, associations: out.associations, copies: 1, logPosition: out.logPosition };
    },

    async ExecuteQuery(req: { query: QueryMsg | null; options: QueryOptionsMsg | null }) {
      const result = await executor.execute(queryFromWire(req.query), optionsFromWire(req.options));
      return resultToWire(result);
    },

    async Status() {
      const cluster = node.cluster;
      return {
        nodeId: node.id,
        version: VERSION,
        uptimeS: (Date.now() - node.startedAt) / 1000,
        grpcAddress: node.grpcAddress,
        spaces: node.engine.spaces(),
        ...(cluster
          ? {
              gossipAddress: cluster.gossipAddress,
              members: cluster.members(),
              tableVersion: cluster.table().version,
              assignments: cluster.table().entries(),
              partitionState: cluster.partitionState(),
              replication: node.replicationLag(),
            }
          : { partitionState: 'connected' }),
      };
    },
  };
}

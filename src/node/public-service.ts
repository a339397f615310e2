/** Handlers of the public `Engram` service: create space, store, execute query, status. */
import { performance } from 'node:perf_hooks';
import type * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, TooManySpacesError } from '../errors.js';
import type { AssociationMsg, MemoryMsg, QueryMsg, QueryOptionsMsg } from '../wire/messages.js';
import { optionsFromWire, queryFromWire } from '../query/from-wire.js';
import { resultToWire } from '../query/result-wire.js';
import { isCrossSpread, type Query } from '../query/types.js';
import type { Handler } from './handler.js';
import type { WriteGuard } from '../storage/disk-floor.js';
import type { Engine } from '../engine/engine.js';
import type { StoreBatch } from '../engine/store-batch.js';
import type { Logger } from '../util/logger.js';
import type { Cluster } from '../cluster/cluster.js';
import { DEFAULT_WRITE_TIMEOUT_MS, type AckLevel, type SpaceWriter } from '../cluster/space-writes.js';
import type { QueryExecutor } from '../query/executor.js';
import { DistributedExecutor } from '../query/distributed-executor.js';
import { coverageToWire } from '../query/coverage.js';
import { EncodedResponse, encodeQueryResponse } from '../wire/proto.js';
import { callContext } from './call-context.js';
import { activeContext, extractContext } from '../query/tracing.js';

/**
 * What the public handlers use, handed in by the composition root (src/node/engram-node.ts).
 * The getters are late-bound: the server is bound before the node joins its cluster.
 */
export interface PublicServices {
  readonly id: string;
  readonly storageId: string;
  readonly startedAt: number;
  readonly engine: Engine;
  readonly logger: Logger;
  grpcAddress(): string;
  cluster(): Cluster | undefined;
  /** Writes through the space groups (undefined for a node without a cluster). */
  writer(): SpaceWriter | undefined;
  executor(): QueryExecutor;
  /** The free-disk floor: checked before a Store or CreateSpace is taken (DiskFullError). */
  readonly writeGuard: WriteGuard;
  /** Spaces a node of its own may hold (a cluster's cap is the cluster's own). */
  readonly maxSpaces: number;
}
import { VERSION } from '../util/version.js';
import { checkSpaceId } from '../engine/ids.js';
import { DEFAULT_DIMENSION, MAX_DIMENSION } from '../engine/limits.js';

interface CreateSpaceMsg { space: string; dimension: number; primary: string; replicas: string[]; copies?: number }
export interface StoreMsg { space: string; memories: MemoryMsg[]; associations: AssociationMsg[]; ack: string | number }

/** proto-loader hands an enum number it does not know through as a number: refuse it, never guess. */
export function ackLevel(wire: string | number): AckLevel {
  if (wire === 'ACK_LEVEL_QUORUM' || wire === 'ACK_LEVEL_UNSPECIFIED') return 'quorum';
  if (wire === 'ACK_LEVEL_ALL') return 'all';
  if (wire === 'ACK_LEVEL_ONE') {
    throw new InvalidArgumentError('ack', wire, 'ACK_LEVEL_ONE is retired: an acknowledgement a failover can take back is not given; use ACK_LEVEL_QUORUM (the default) or ACK_LEVEL_ALL');
  }
  throw new InvalidArgumentError('ack', wire, 'must be ACK_LEVEL_QUORUM or ACK_LEVEL_ALL');
}

/** The store request as the engine takes it. */
export function batchFromWire(req: StoreMsg): StoreBatch {
  return {
    memories: req.memories.map((m) => ({
      id: m.id,
      embedding: Float32Array.from(m.embedding),
      content: m.content,
      ...(m.confidence ? { confidence: { lower: m.confidence.lower, upper: m.confidence.upper } } : {}),
      // Only an exact 0 means "now": NaN is falsy too and must reach the engine's check.
      ...(m.createdAt !== 0 ? { createdAt: m.createdAt } : {}),
    })),
    associations: req.associations.map((a) => ({
      from: a.from,
      to: a.to,
      weight: a.weight,
      ...(a.toSpace ? { toSpace: a.toSpace } : {}),
    })),
  };
}

/** The call's deadline on the performance clock: the caller's, else DEFAULT_WRITE_TIMEOUT_MS from now. */
export function writeDeadline(call: grpc.ServerUnaryCall<unknown, unknown> | undefined): number {
  const d = call?.getDeadline();
  const at = d instanceof Date ? d.getTime() : typeof d === 'number' && Number.isFinite(d) ? d : undefined;
  const ms = at === undefined ? DEFAULT_WRITE_TIMEOUT_MS : Math.max(0, at - Date.now());
  return performance.now() + ms;
}

/**
 * Space ids are checked before anything looks them up: a lookup's not-found error quotes the id,
 * and a multi-megabyte id in a status message overflows the HTTP/2 trailers, which stalls the
 * caller's whole connection instead of answering.
 */
function checkQuerySpaces(query: Query): void {
  if (isCrossSpread(query)) {
    if (query.spaces !== 'all') query.spaces.forEach((s, i) => checkSpaceId(s, `query.spread.spaces[${i}]`));
    return;
  }
  if (query.kind !== 'imagine') {
    checkSpaceId(query.space, `query.${query.kind}.space`);
    return;
  }
  if (!Array.isArray(query.spaces) || query.spaces.length === 0) throw new InvalidArgumentError('query.imagine.spaces', query.spaces, 'name at least one space');
  query.spaces.forEach((s, i) => checkSpaceId(s, `query.imagine.spaces[${i}]`));
}

export function publicHandlers(node: PublicServices): Record<string, Handler> {
  return {
    async CreateSpace(req: CreateSpaceMsg) {
      await node.writeGuard.check();
      const cluster = node.cluster();
      if (cluster) {
        checkSpaceId(req.space);
        const dimension = req.dimension === 0 ? DEFAULT_DIMENSION : req.dimension;
        if (!Number.isInteger(dimension) || dimension < 1 || dimension > MAX_DIMENSION) {
          throw new InvalidArgumentError('dimension', req.dimension, `must be 1..${MAX_DIMENSION}`);
        }
        const out = await cluster.createSpace(req.space, dimension, {
          ...(req.primary ? { primary: req.primary } : {}),
          ...(req.replicas.length > 0 ? { replicas: req.replicas } : {}),
          ...(req.copies !== undefined ? { replicationFactor: req.copies } : {}),
        });
        return { space: req.space, dimension, created: out.created, primary: out.assignment.primary, replicas: out.assignment.replicas };
      }
      // A node of its own: explicit placement may only name this node.
      for (const [field, value] of [['primary', req.primary], ...req.replicas.map((r, i) => [`replicas[${i}]`, r])] as [string, string][]) {
        if (value !== '' && value !== node.id) throw new InvalidArgumentError(field, value, 'not a member of this cluster');
      }
      const spaces = node.engine.spaces();
      if (spaces.length >= node.maxSpaces && !spaces.some((s) => s.id === req.space)) {
        checkSpaceId(req.space);
        throw new TooManySpacesError(req.space, node.maxSpaces);
      }
      const out = await node.engine.createSpace(req.space, req.dimension === 0 ? undefined : req.dimension);
      return { space: req.space, dimension: out.dimension, created: out.created, primary: node.id, replicas: [] };
    },

    async Store(req: StoreMsg, call) {
      checkSpaceId(req.space);
      const ack = ackLevel(req.ack);
      const batch = batchFromWire(req);
      await node.writeGuard.check();
      const writer = node.writer();
      if (writer) return writer.store(req, batch, ack, writeDeadline(call));
      const out = await node.engine.store(req.space, batch);
      return { memories: out.memories, associations: out.associations, copies: 1, logPosition: out.logPosition };
    },

    async ExecuteQuery(req: { query: QueryMsg | null; options: QueryOptionsMsg | null }, call) {
      const query = queryFromWire(req.query);
      checkQuerySpaces(query);
      // Consolidate writes patterns: refused below the disk floor like a Store.
      if (query.kind === 'consolidate') await node.writeGuard.check();
      const options = optionsFromWire(req.options);
      // One deadline and one cancellation from here down (DESIGN §8).
      const { context, dispose } = callContext(call);
      // A client's `traceparent` makes the query's span part of its trace (a no-op without an SDK).
      const parent = extractContext(call.metadata, activeContext());
      if (parent !== activeContext()) context.trace = parent;
      try {
        const executor = node.executor();
        if (!(executor instanceof DistributedExecutor)) return resultToWire(await executor.execute(query, options, context));
        const answer = await executor.executeForWire(query, options, context);
        if (answer.kind === 'result') return resultToWire(answer.result);
        // Another node's answer in the client's own form: passed on with this node's coverage.
        return new EncodedResponse(Buffer.concat([answer.body, encodeQueryResponse({ coverage: coverageToWire(answer.coverage) })]));
      } finally {
        dispose();
      }
    },

    async Status() {
      const cluster = node.cluster();
      return {
        nodeId: node.id,
        storageId: node.storageId,
        version: VERSION,
        uptimeS: (Date.now() - node.startedAt) / 1000,
        grpcAddress: node.grpcAddress(),
        spaces: node.engine.spaces(),
        ...(cluster
          ? {
              gossipAddress: cluster.gossipAddress,
              members: cluster.members(),
              tableVersion: cluster.tableVersion(),
              assignments: cluster.assignments(),
              meta: cluster.metaStatus(),
              partitionState: cluster.partitionState(),
              groups: cluster.spaceGroups.info(),
            }
          : { partitionState: 'connected' }),
      };
    },
  };
}

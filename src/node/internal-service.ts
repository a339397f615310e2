/**
 * Handlers of the node-to-node `EngramInternal` service: a partition answered columnar, the
 * metadata group's join and apply wait, replication, and the test-only fault switch (the Raft
 * stream itself is registered by the node from its RaftTransport).
 *
 * Every call but SetFault must come from a member of the cluster: the node has to run in one
 * (a node without --gossip refuses them all), and the caller must prove it knows the cluster key
 * (see src/security/internal-auth.ts). With TLS every call, SetFault included, must also come
 * over a connection that presented a certificate signed by the cluster CA.
 */
import type { QueryMsg } from '../wire/messages.js';
import { consistencyFromWire, queryFromWire } from '../query/from-wire.js';
import { answerFromEngine } from '../query/engine-partition.js';
import { forPartition, type PartitionQuery } from '../query/types.js';
import { partitionToWire, spreadRoundFromWire, type SpreadRoundMsg } from '../wire/partition-codec.js';
import type { Handler } from './handler.js';
import type { Engine } from '../engine/engine.js';
import type { Logger } from '../util/logger.js';
import type { SpaceWriter } from '../cluster/space-writes.js';
import { ackLevel, batchFromWire, writeDeadline, type StoreMsg } from './public-service.js';
import { checkSpaceId } from '../engine/ids.js';
import type { NodeMetrics } from './metrics.js';
import { AbortError, ClusterMismatchError, DeadlineExceededError, FaultSwitchRefusedError, InvalidArgumentError, NotInClusterError, UnauthenticatedError } from '../errors.js';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { CODE_METADATA, FIELDS_METADATA, isInternal, toGrpcError } from '../wire/grpc-errors.js';
import { gatherAnswers } from '../query/gather-answers.js';
import { resultToWire } from '../query/result-wire.js';
import { encodeQueryResponse } from '../wire/proto.js';
import { callDeadlineEpochMs } from './call-context.js';
import { answerMarginMs } from '../query/deadline.js';
import type { Cluster, JoinRequestMsg } from '../cluster/cluster.js';
import { requireNodeCertificate, verifyTag, type ReplayGuard } from '../security/internal-auth.js';

/** The cluster id each authenticated call's tag named (JoinCluster compares it). */
const tagClusters = new WeakMap<object, string>();
import { receivedDigest } from '../wire/proto.js';
import { extractContext, failSpan, SPAN_EXECUTE, SpanKind, tracer } from '../query/tracing.js';

/** Faults a test can inject through SetFault when the node runs with --enable-faults. */
export interface NodeFaults {
  /** Delay before every RPC is served, ms. */
  delayMs: number;
  /** Share of calls the delay applies to, 0..1; 0 means all. */
  delayProbability: number;
  /** When > 0, the delay applies only to that round of a Spread over several spaces (1: the seeds' round). */
  delaySpreadRound: number;
}

/** A call whose caller stopped waiting is not worth starting: its answer would be thrown away. */
function stopIfOver(call: { cancelled: boolean }, deadline: number | undefined): void {
  if (call.cancelled) throw new AbortError('the caller cancelled the call');
  if (deadline !== undefined && Date.now() >= deadline) throw new DeadlineExceededError('ExecuteLocal', 0);
}

/**
 * What the internal handlers use, handed in by the composition root (src/node/engram-node.ts).
 * The getters are late-bound: the server is bound before the node joins its cluster.
 */
export interface InternalServices {
  readonly engine: Engine;
  /** Calls this node is serving now (reported in each partition answer: the callers rank copies by it). */
  load(): number;
  readonly logger: Logger;
  readonly metrics: Pick<NodeMetrics, 'internalAuthFailures' | 'clusterRefused'>;
  cluster(): Cluster | undefined;
  writer(): SpaceWriter | undefined;
  /** Who may call: TLS client certificates, the cluster key's tags (undefined: no cluster), seen nonces. */
  readonly auth: { readonly tls: boolean; readonly clusterKey: string | undefined; readonly replay: ReplayGuard };
  /** The test-only fault switch: whether it is on, extra callers it takes, and the faults in force. */
  readonly faults: { readonly enabled: boolean; readonly callers: ReadonlySet<string>; readonly state: NodeFaults };
}

function clusterOf(node: InternalServices, what: string): Cluster {
  const cluster = node.cluster();
  if (!cluster) throw new NotInClusterError(what);
  return cluster;
}

/** The host of a grpc-js peer string (`10.0.0.1:5000`, `[::1]:5000`, maybe `ipv4:`-prefixed). */
export function peerHost(peer: string): string {
  const m = /^(?:ipv[46]:)?(?:\[([^\]]+)\]|([^:]+)):\d+$/.exec(peer);
  return m ? (m[1] ?? m[2]!) : peer;
}

/** Whether a grpc-js peer string (`127.0.0.1:5000`, `[::1]:5000`, maybe `ipv4:`-prefixed) is on this machine. */
export function isLoopbackPeer(peer: string): boolean {
  return /^(?:ipv[46]:)?(?:127\.|\[::1\]|\[::ffff:127\.)|^unix:/.test(peer);
}

/**
 * Wraps each handler with the checks above; a refusal is counted by method and reason and logged
 * with the caller's address, and reaches the caller as UNAUTHENTICATED.
 */
function authenticated(node: InternalServices, handlers: Record<string, Handler>): Record<string, Handler> {
  const out: Record<string, Handler> = {};
  for (const [method, handler] of Object.entries(handlers)) {
    out[method] = async (request, call) => {
      try {
        if (node.auth.tls) requireNodeCertificate(call, method);
        if (method !== 'SetFault') {
          // Without a cluster there is no key to check against, and nothing a peer should ask.
          if (node.auth.clusterKey === undefined) throw new NotInClusterError(method);
          const tag = verifyTag(node.auth.clusterKey, call.metadata, method, {
            clusterId: node.cluster()?.clusterId ?? '',
            // A joiner may not know the cluster id yet, or name another one: JoinCluster itself
            // compares the id its request carries (and counts a mismatch).
            allowAnyCluster: method === 'JoinCluster',
            digest: receivedDigest(request),
            replay: node.auth.replay,
          });
          tagClusters.set(call, tag.clusterId);
        }
      } catch (err) {
        if (err instanceof UnauthenticatedError) {
          node.metrics.internalAuthFailures.inc({ method, reason: err.reason });
          node.logger.warn('internal call refused', { method, reason: err.reason, peer: call.getPeer() });
        }
        throw err;
      }
      return handler(request, call);
    };
  }
  return out;
}

type ExecuteLocalMsg = { query: QueryMsg | null; partition: string; consistency?: string | number; final?: boolean; partitioned?: boolean; spreadRound?: SpreadRoundMsg | null };

/**
 * ExecuteLocal under an `engram.partition.execute` span, a child of the coordinator's call span
 * when the call carried its `traceparent` (read only once the call is authenticated).
 */
async function tracedExecuteLocal(node: InternalServices, req: ExecuteLocalMsg, call: Parameters<Handler>[1]): Promise<unknown> {
  const span = tracer.startSpan(SPAN_EXECUTE, { kind: SpanKind.SERVER }, extractContext(call.metadata));
  if (span.isRecording()) span.setAttributes({ 'engram.partition': req.partition, 'engram.final': req.final === true });
  try {
    const answer = await executeLocal(node, req, call);
    span.setAttribute('engram.status', 'ok');
    return answer;
  } catch (err) {
    span.setAttribute('engram.status', 'error');
    failSpan(span, err);
    throw err;
  } finally {
    span.end();
  }
}

async function executeLocal(node: InternalServices, req: ExecuteLocalMsg, call: Parameters<Handler>[1]): Promise<unknown> {
  const started = performance.now();
  const queue = Math.max(0, node.load() - 1);
  const query: PartitionQuery = req.spreadRound ? spreadRoundFromWire(req.partition, req.spreadRound) : forPartition(queryFromWire(req.query), req.partition);
  // The caller's deadline bounds the work here: a read barrier waits no longer, a query whose
  // deadline passed meanwhile is not run, and a consolidation stops there with what it found.
  const deadline = callDeadlineEpochMs(call);
  const cluster = node.cluster();
  if (cluster && query.kind !== 'consolidate') cluster.checkReadable(req.partition);
  if (req.consistency !== undefined && consistencyFromWire(req.consistency) === 'leader') await clusterOf(node, 'ExecuteLocal').readBarrier(req.partition, deadline);
  stopIfOver(call, deadline);
  const writer = node.writer();
  const answer = await answerFromEngine(node.engine, query, req.partition, {
    ...(deadline !== undefined ? { deadline } : {}),
    // A consolidation's patterns go through the space's Raft group, from its leader.
    ...(writer ? { consolidate: (space: string, q: object) => writer.consolidate(space, q) } : {}),
  });
  const copy = cluster?.copyState(req.partition);
  const load = { queue, serviceUs: 0 };
  if (req.final && query.kind !== 'spread-round') {
    // The client's own answer, merged and penalised as the coordinator would have: it
    // passes these bytes on with its coverage and decodes nothing (DESIGN §8, no hop tax).
    const outcome = { index: 0, partition: req.partition, node: '', role: 'primary' as const, status: 'ok' as const, reason: '', latencyMs: 0, answer };
    const { coverage: _c, ...body } = resultToWire(await gatherAnswers(query, [outcome], {}, req.partitioned ?? false));
    load.serviceUs = Math.round((performance.now() - started) * 1000);
    return { ...partitionToWire(req.partition, { kind: 'response', response: encodeQueryResponse(body), ...(copy ? { copy } : {}) }), ...load };
  }
  load.serviceUs = Math.round((performance.now() - started) * 1000);
  return { ...partitionToWire(req.partition, copy ? { ...answer, copy } : answer), ...load };
}

type BatchEntryMsg = { request: ExecuteLocalMsg | null; trace?: Record<string, string> };

/** A failure as the CallError of a batch entry: what the status of a failed call would have said. */
function callErrorOf(err: unknown): Record<string, unknown> {
  const e = toGrpcError(err);
  const fields = e.metadata.get(FIELDS_METADATA)[0];
  return { code: e.code, details: e.details, engramCode: String(e.metadata.get(CODE_METADATA)[0] ?? ''), ...(Buffer.isBuffer(fields) ? { fields } : {}) };
}

/**
 * What an entry's ExecuteLocal reads of its call: the batch call's deadline, cancellation and
 * peer, and the entry's own metadata (its trace context). Only these: an entry is not a call.
 */
function entryCall(call: Parameters<Handler>[1], trace: Record<string, string> | undefined): Parameters<Handler>[1] {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(trace ?? {})) metadata.set(k, v);
  const entry = {
    metadata,
    get cancelled() {
      return call.cancelled;
    },
    getDeadline: () => call.getDeadline(),
    getPeer: () => call.getPeer(),
  };
  return entry as unknown as Parameters<Handler>[1];
}

/**
 * One entry of an ExecuteLocalBatch, answered as its own ExecuteLocal would be. A failure becomes
 * the entry's CallError, never the whole batch's.
 */
async function batchEntry(node: InternalServices, entry: BatchEntryMsg, call: Parameters<Handler>[1]): Promise<unknown> {
  try {
    if (!entry.request) throw new InvalidArgumentError('entries[].request', null, 'every entry needs a request');
    return { result: await tracedExecuteLocal(node, entry.request, entryCall(call, entry.trace)) };
  } catch (err) {
    if (isInternal(err)) node.logger.error('batch entry failed', { partition: entry.request?.partition ?? '', err: err instanceof Error ? err.message : String(err) });
    return { error: callErrorOf(err) };
  }
}

/**
 * Answers a batch once every entry is done, or a margin before the batch's deadline with the
 * entries done by then (the others fail DEADLINE_EXCEEDED, and the caller stops waiting for
 * them): an entry stuck in one partition (a read barrier, a slow disk) does not hold back or
 * time out the answers of the others.
 */
async function executeBatch(node: InternalServices, entries: BatchEntryMsg[], call: Parameters<Handler>[1]): Promise<unknown> {
  const results: unknown[] = new Array(entries.length);
  const all = Promise.all(entries.map(async (e, i) => {
    results[i] = await batchEntry(node, e, call);
  }));
  const deadline = callDeadlineEpochMs(call);
  if (deadline === undefined) {
    await all;
    return { results };
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cut = new Promise<void>((resolve) => {
    const left = deadline - Date.now();
    timer = setTimeout(resolve, Math.max(0, left - answerMarginMs(left)));
  });
  try {
    await Promise.race([all, cut]);
  } finally {
    clearTimeout(timer);
  }
  const late = callErrorOf(new DeadlineExceededError('ExecuteLocal (an entry of a batch that answered at its deadline)', 0));
  return { results: Array.from(results, (r) => r ?? { error: late }) };
}

export function internalHandlers(node: InternalServices): Record<string, Handler> {
  return authenticated(node, {
    ExecuteLocal: (req: ExecuteLocalMsg, call) => tracedExecuteLocal(node, req, call),

    ExecuteLocalBatch: (req: { entries: BatchEntryMsg[] }, call) => executeBatch(node, req.entries ?? [], call),

    async JoinCluster(req: JoinRequestMsg, call) {
      const cluster = clusterOf(node, 'JoinCluster');
      try {
        return await cluster.admit(req, tagClusters.get(call) ?? '');
      } catch (err) {
        if (err instanceof ClusterMismatchError) node.metrics.clusterRefused.inc({ reason: 'other_cluster' });
        throw err;
      }
    },

    async AwaitApplied(req: { index: number | string; space: string }, call) {
      const cluster = clusterOf(node, 'AwaitApplied');
      const deadline = call.getDeadline();
      const ms = deadline instanceof Date ? deadline.getTime() - Date.now() : typeof deadline === 'number' && Number.isFinite(deadline) ? deadline - Date.now() : 5_000;
      const index = Number(req.index);
      const wait = Math.max(0, Math.min(ms, 30_000));
      if (req.space) {
        checkSpaceId(req.space);
        const groups = cluster.spaceGroups;
        if (!groups.has(req.space)) return { applied: 0 };
        await groups.waitApplied(req.space, index, wait);
        return { applied: groups.applied(req.space) };
      }
      await cluster.meta.waitApplied(index, wait);
      return { applied: cluster.meta.applied };
    },

    async ReadSpaceLog(req: { space: string; fromPosition: number | string; maxBytes: number }) {
      checkSpaceId(req.space);
      clusterOf(node, 'ReadSpaceLog');
      const maxBytes = Math.min(Math.max(1, req.maxBytes || 1), 4 * 1024 * 1024);
      return node.engine.readLog(req.space, Math.max(2, Number(req.fromPosition)), maxBytes);
    },

    async ForwardStore(req: StoreMsg, call) {
      checkSpaceId(req.space);
      const writer = node.writer();
      if (!writer) throw new NotInClusterError('ForwardStore');
      // Hop limit 1: proposed here or refused with the leader this node knows, never sent on.
      return writer.lead(req.space, batchFromWire(req), ackLevel(req.ack), writeDeadline(call));
    },

    async SetFault(req: { cutOff: boolean; delayMs: number; collectGarbage: boolean; delayProbability?: number; delaySpreadRound?: number }, call) {
      if (!node.faults.enabled) throw new FaultSwitchRefusedError('the node runs without --enable-faults');
      if (!isLoopbackPeer(call.getPeer()) && !node.faults.callers.has(peerHost(call.getPeer()))) {
        throw new FaultSwitchRefusedError(`caller ${call.getPeer()} is not on loopback (nor named by --fault-callers)`);
      }
      if (req.collectGarbage) {
        const gc = (globalThis as { gc?: () => void }).gc;
        if (typeof gc !== 'function') throw new FaultSwitchRefusedError('garbage collection needs the node started with node --expose-gc');
        gc();
        return {};
      }
      const p = req.delayProbability ?? 0;
      if (!(p >= 0 && p <= 1)) throw new InvalidArgumentError('delayProbability', p, 'must be in 0..1');
      node.faults.state.delayMs = req.delayMs;
      node.faults.state.delayProbability = p;
      node.faults.state.delaySpreadRound = req.delaySpreadRound ?? 0;
      node.cluster()?.setCutOff(req.cutOff);
      node.logger.warn('fault injected', { cutOff: req.cutOff, delayMs: req.delayMs, delayProbability: p, delaySpreadRound: req.delaySpreadRound ?? 0 });
      return {};
    },
  });
}

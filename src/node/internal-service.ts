/**
 * Handlers of the node-to-node `EngramInternal` service: a partition answered columnar, the
 * assignment table, replication, and the test-only fault switch.
 *
 * Every call but SetFault must come from a member of the cluster: the node has to run in one
 * (a node without --gossip refuses them all), and the caller must prove it knows the cluster key
 * (see src/security/internal-auth.ts). With TLS every call, SetFault included, must also come
 * over a connection that presented a certificate signed by the cluster CA.
 */
import type { QueryMsg } from '../wire/messages.js';
import { queryFromWire } from '../query/from-wire.js';
import { answerFromEngine } from '../query/engine-partition.js';
import { forPartition } from '../query/types.js';
import { partitionToWire } from '../wire/partition-codec.js';
import type { EngramNode, Handler } from './engram-node.js';
import { FaultSwitchRefusedError, NotInClusterError, UnauthenticatedError } from '../errors.js';
import type { Cluster } from '../cluster/cluster.js';
import { requireNodeCertificate, verifyInternalCall } from '../security/internal-auth.js';

function clusterOf(node: EngramNode, what: string): Cluster {
  if (!node.cluster) throw new NotInClusterError(what);
  return node.cluster;
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
function authenticated(node: EngramNode, handlers: Record<string, Handler>): Record<string, Handler> {
  const out: Record<string, Handler> = {};
  for (const [method, handler] of Object.entries(handlers)) {
    out[method] = async (request, call) => {
      try {
        if (node.tls) requireNodeCertificate(call, method);
        if (method !== 'SetFault') {
          // Without a cluster there is no key to check against, and nothing a peer should ask.
          if (node.clusterKey === undefined) throw new NotInClusterError(method);
          verifyInternalCall(node.clusterKey, call.metadata, method);
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

export function internalHandlers(node: EngramNode): Record<string, Handler> {
  return authenticated(node, {
    async ExecuteLocal(req: { query: QueryMsg | null; partition: string }) {
      const query = forPartition(queryFromWire(req.query), req.partition);
      const answer = await answerFromEngine(node.engine, query, req.partition);
      // Consolidation wrote patterns to this primary's log: ship them to the replicas.
      if (query.kind === 'consolidate') node.replicator?.kick(req.partition);
      return partitionToWire(req.partition, answer);
    },

    async PushTable(req: { json: Buffer }) {
      const merged = await clusterOf(node, 'PushTable').receiveTable(JSON.parse(req.json.toString('utf8')));
      return { json: Buffer.from(JSON.stringify(merged.toJSON())) };
    },

    async Replicate(req: { space: string; dimension: number; records: { position: number; payload: Buffer }[]; from: string }) {
      if (!node.replicator) throw new NotInClusterError('Replicate');
      return node.replicator.receive(req);
    },

    async PullTable() {
      return { json: Buffer.from(JSON.stringify(clusterOf(node, 'PullTable').table().toJSON())) };
    },

    async SetFault(req: { cutOff: boolean; delayMs: number; collectGarbage: boolean }, call) {
      if (!node.enableFaults) throw new FaultSwitchRefusedError('the node runs without --enable-faults');
      if (!isLoopbackPeer(call.getPeer()) && !node.faultCallers.has(peerHost(call.getPeer()))) {
        throw new FaultSwitchRefusedError(`caller ${call.getPeer()} is not on loopback (nor named by --fault-callers)`);
      }
      if (req.collectGarbage) {
        const gc = (globalThis as { gc?: () => void }).gc;
        if (typeof gc !== 'function') throw new FaultSwitchRefusedError('garbage collection needs the node started with node --expose-gc');
        gc();
        return {};
      }
      node.faults.delayMs = req.delayMs;
      if (node.cluster) node.cluster.membership.cutOff = req.cutOff;
      node.logger.warn('fault injected', { cutOff: req.cutOff, delayMs: req.delayMs });
      return {};
    },
  });
}

/**
 * The receiving side of the Raft transport: the `EngramInternal.Raft` handler. A stream is
 * authenticated like every internal call (the CA-signed client certificate when the server runs
 * TLS, then the cluster-key tag for the method); every batch must carry our cluster id and come
 * from the node its tag names, or the stream is ended (PERMISSION_DENIED, RaftPeerRefusedError)
 * before anything more of it is stepped. Refusals are counted by reason and logged. Each batch
 * is acknowledged (its `seq`) once every message of it has been stepped.
 */
import type * as grpc from '@grpc/grpc-js';
import { UnauthenticatedError } from '../errors.js';
import { ReplayGuard, requireNodeCertificate, STREAM_DIGEST, verifyTag } from '../security/internal-auth.js';
import { toGrpcError } from '../wire/grpc-errors.js';
import { RaftPeerRefusedError, RaftTransportClosedError, type RaftPeerRefusal } from '../errors.js';
import type { ParsedRaftTransportOptions } from './raft-transport-options.js';
import type { RaftTransportCounters } from './raft-transport-stats.js';
import { RAFT_METHOD, type RaftAckMsg, type RaftBatchMsg, type RaftTransportHost } from './raft-transport-wire.js';

type RaftServerCall = grpc.ServerDuplexStream<RaftBatchMsg, RaftAckMsg>;

export class RaftReceiver {
  readonly #options: ParsedRaftTransportOptions;
  readonly #counters: RaftTransportCounters;
  readonly #host: () => RaftTransportHost | undefined;
  /** Streams being read, and how to end each (with a status) when the transport closes. */
  readonly #open = new Map<RaftServerCall, (err: Error) => void>();
  /** Stream-opening tags seen within the replay window. */
  readonly #replay: ReplayGuard;
  #closed = false;

  constructor(options: ParsedRaftTransportOptions, counters: RaftTransportCounters, host: () => RaftTransportHost | undefined) {
    this.#options = options;
    this.#counters = counters;
    this.#host = host;
    this.#replay = options.replay ?? new ReplayGuard();
  }

  /** Streams open now. */
  get streams(): number {
    return this.#open.size;
  }

  /** The handler (a `handleBidiStreamingCall`); an arrow so it can be registered as is. */
  readonly handle = (call: RaftServerCall): void => {
    const options = this.#options;
    const counters = this.#counters;
    let done = false;
    let stepProblemLogged = false;
    /** Ends the call: OK when the sender ended it, else with the error's status (grpc-js sends it on 'error'). */
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      this.#open.delete(call);
      call.removeAllListeners('data');
      if (err) call.emit('error', toGrpcError(err));
      else call.end();
    };
    const host = this.#host();
    if (this.#closed || !host) {
      counters.refused.closed++;
      finish(new RaftTransportClosedError(this.#closed ? 'this node is stopping' : 'this node has not started its Raft groups yet'));
      return;
    }

    let sender: string;
    let tagCluster: string;
    try {
      if (options.requireClientCertificate) requireNodeCertificate(call, RAFT_METHOD);
      // The tag's cluster id is compared with each batch's below, so that a node of another
      // cluster is refused as such (ERR_RAFT_PEER_REFUSED), not as a bad tag.
      ({ nodeId: sender, clusterId: tagCluster } = verifyTag(options.clusterKey, call.metadata, RAFT_METHOD, { clusterId: options.clusterId, allowAnyCluster: true, digest: STREAM_DIGEST, replay: this.#replay }));
    } catch (err) {
      if (err instanceof UnauthenticatedError) {
        counters.refused[err.reason]++;
        options.logger.warn('raft stream refused', { reason: err.reason, peer: call.getPeer() });
      }
      finish(err as Error);
      return;
    }
    counters.streamsAccepted++;
    this.#open.set(call, finish);

    const refuse = (reason: RaftPeerRefusal, message: string, fields: Record<string, unknown>): void => {
      counters.refused[reason]++;
      options.logger.warn('raft stream refused', { reason, from: sender, peer: call.getPeer(), ...fields });
      finish(new RaftPeerRefusedError(reason, message));
    };

    call.on('data', (batch: RaftBatchMsg) => {
      if (done) return;
      const claimed = batch.clusterId !== options.clusterId ? batch.clusterId : tagCluster;
      if (claimed !== options.clusterId) {
        // Same key, another cluster: stepping its messages would mix two clusters' logs.
        refuse('cluster_mismatch', `node ${JSON.stringify(sender)} belongs to cluster ${JSON.stringify(claimed)}, not this node's`, { clusterId: claimed });
        return;
      }
      if (batch.fromNode !== sender) {
        refuse('node_mismatch', `a batch from node ${JSON.stringify(batch.fromNode)} on a stream authenticated as node ${JSON.stringify(sender)}`, { fromNode: batch.fromNode });
        return;
      }
      counters.batchesReceived++;
      for (const m of batch.messages) {
        counters.messagesReceived++;
        try {
          if (host.step(m.group, m.data)) counters.messagesStepRefused++;
        } catch (err) {
          // Undecodable or for a fenced-off group: that message only; the stream and its other
          // groups go on. Logged once per stream, counted always.
          counters.messagesStepFailed++;
          if (!stepProblemLogged) {
            stepProblemLogged = true;
            options.logger.warn('raft message not stepped', { from: sender, group: m.group, error: (err as Error).message });
          }
        }
      }
      call.write({ seq: batch.seq } satisfies RaftAckMsg);
      options.onReceived?.();
    });
    call.on('end', () => finish(null));
    // The sender cancelled or its connection died: grpc-js has ended the call, nothing to answer.
    const gone = (): void => {
      done = true;
      this.#open.delete(call);
    };
    call.on('cancelled', gone);
    call.on('close', gone);
  };

  /** Ends every open stream with UNAVAILABLE (the senders back off and reopen elsewhere or later); refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const finish of [...this.#open.values()]) finish(new RaftTransportClosedError('this node is stopping'));
  }
}

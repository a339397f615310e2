/**
 * Raft messages between nodes (DESIGN §5, issue 11): every group's messages from this node to
 * one peer travel on one `EngramInternal.Raft` stream (batches out, acknowledgements back),
 * batched per Ready round, and the receiving node steps each into its RaftHost. See
 * docs/raft.md, "Transport".
 *
 * The owner drives it:
 *
 *   const transport = new RaftTransport({ clusterId, nodeId, clusterKey, resolve, onReceived: pump });
 *   const host = await RaftHost.open(dir, { transport, stateMachine });
 *   transport.attach(host);
 *   server.addService(protos().internalService, { ...others, ...transport.handlers() });
 *   // every tick:      host.tick(); pump();
 *   // pump():          await host.processReadies(); transport.flush();   (one run at a time)
 *
 * `send` (called by the host while it handles Readies) only queues; `flush` sends each peer's
 * queue as one batch, so a round's messages for a peer leave together, after the fsync that
 * processReadies did before handing them out.
 */
import type * as grpc from '@grpc/grpc-js';
import type { RaftTransport as RaftHostTransport } from '../raft/raft-host.js';
import { parseRaftTransportOptions, type ParsedRaftTransportOptions, type RaftTransportOptions } from './raft-transport-options.js';
import { RaftPeer, type RaftPeerContext } from './raft-transport-peer.js';
import { RaftReceiver } from './raft-transport-receiver.js';
import { newRaftTransportCounters, type RaftTransportCounters, type RaftTransportStats } from './raft-transport-stats.js';
import { RAFT_METHOD, type RaftTransportHost } from './raft-transport-wire.js';

export class RaftTransport implements RaftHostTransport {
  readonly #options: ParsedRaftTransportOptions;
  readonly #counters: RaftTransportCounters = newRaftTransportCounters();
  /** Peers by address: one stream per address, whatever the groups and raft ids behind it. */
  readonly #peers = new Map<string, RaftPeer>();
  readonly #peerContext: RaftPeerContext;
  readonly #receiver: RaftReceiver;
  #host: RaftTransportHost | undefined;
  /** Messages no address was found for since the last flush, one per (group, peer, kind). */
  readonly #unresolved = new Map<string, { group: string; to: number; snapshot: boolean }>();
  #closed = false;

  constructor(options: RaftTransportOptions) {
    this.#options = parseRaftTransportOptions(options);
    this.#receiver = new RaftReceiver(this.#options, this.#counters, () => this.#host);
    this.#peerContext = {
      options: this.#options,
      counters: this.#counters,
      reportUnreachable: (group, to) => this.#report(group, () => {
        this.#counters.unreachableReports++;
        this.#host?.reportUnreachable(group, to);
      }),
      reportSnapshot: (group, to, delivered) => this.#report(group, () => {
        if (delivered) this.#counters.snapshotsDelivered++;
        else this.#counters.snapshotsFailed++;
        this.#host?.reportSnapshot(group, to, delivered);
      }),
    };
  }

  /**
   * The host messages are stepped into and reports go to. The host needs the transport to be
   * opened, so the two are joined after both exist; until then received streams are refused
   * with UNAVAILABLE.
   */
  attach(host: RaftTransportHost): void {
    this.#host = host;
  }

  /** The EngramInternal implementation of `Raft`, to register with the node's other handlers. */
  handlers(): { [RAFT_METHOD]: grpc.handleBidiStreamingCall<unknown, unknown> } {
    return { [RAFT_METHOD]: this.#receiver.handle as grpc.handleBidiStreamingCall<unknown, unknown> };
  }

  /** RaftHost's transport: queues `data` for raft id `to` of `group`; `flush` sends it. */
  send(group: string, to: number, data: Uint8Array, isSnapshot: boolean): void {
    if (this.#closed) return;
    let address: string | undefined;
    try {
      address = this.#options.resolve(group, to);
    } catch (err) {
      this.#options.logger.warn('raft peer address lookup failed', { group, to, error: (err as Error).message });
    }
    if (address === undefined) {
      // Nowhere to send it (a member the metadata does not know yet, or one removed). Reported
      // at the flush: the host is handling a Ready now.
      this.#counters.messagesUnsent++;
      this.#unresolved.set(`${to}\n${group}\n${isSnapshot}`, { group, to, snapshot: isSnapshot });
      return;
    }
    let peer = this.#peers.get(address);
    if (!peer) {
      peer = new RaftPeer(address, this.#peerContext);
      this.#peers.set(address, peer);
    }
    peer.enqueue({ group, to, data, snapshot: isSnapshot });
  }

  /**
   * Sends each peer's queue (one batch per peer, split only past maxBatchBytes), reopening
   * streams whose backoff has run out; reports what cannot leave. Forgets peers unused for
   * idlePeerMs (an address no raft id resolves to any more), closing their streams.
   */
  flush(): void {
    if (this.#closed) return;
    for (const m of this.#unresolved.values()) {
      if (m.snapshot) this.#peerContext.reportSnapshot(m.group, m.to, false);
      else this.#peerContext.reportUnreachable(m.group, m.to);
    }
    this.#unresolved.clear();
    const now = this.#options.now();
    for (const [address, peer] of this.#peers) {
      peer.flush(now);
      if (peer.idle && now - peer.lastUsedAt >= this.#options.idlePeerMs) {
        peer.close();
        this.#peers.delete(address);
      }
    }
  }

  stats(): RaftTransportStats {
    let queued = 0;
    for (const p of this.#peers.values()) queued += p.queued;
    return { ...this.#counters, refused: { ...this.#counters.refused }, peers: this.#peers.size, queued, streamsIn: this.#receiver.streams };
  }

  /**
   * Cancels every outgoing stream, ends every incoming one with UNAVAILABLE and drops the
   * queues. Nothing is reported to the host (it is closing too). Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#receiver.close();
    for (const peer of this.#peers.values()) peer.close();
    this.#peers.clear();
  }

  /** A report to a group the host no longer has (removed, fenced off) is moot: dropped. */
  #report(group: string, fn: () => void): void {
    if (this.#closed) return;
    try {
      fn();
    } catch (err) {
      this.#options.logger.warn('raft report not taken', { group, error: (err as Error).message });
    }
  }
}

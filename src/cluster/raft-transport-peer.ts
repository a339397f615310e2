/**
 * The sending side for one peer address: a bounded queue and one `EngramInternal.Raft` stream,
 * opened lazily by a flush, reopened after a break once its backoff (src/pool/backoff.ts) has run
 * out. No timers: nothing has to happen when a backoff ends, the next flush (every tick) reopens.
 *
 * The receiver acknowledges each batch once it has stepped it. At most `maxUnackedBatches` are
 * out at a time; the rest waits here, capped: past `maxQueuedMessages` / `maxQueuedBytes` the
 * oldest non-snapshot messages are dropped (and counted), so a dead or stalled peer costs bounded
 * memory. Raft retransmits what matters. Only an acknowledgement proves the peer took something
 * (grpc-js completes writes of a call that never connected), so only it resets the backoff.
 *
 * Reports to the local groups:
 * - `reportUnreachable(group, to)` once per (group, peer) per flush or broken stream, when
 *   messages for it could not leave: no stream (backing off), unacknowledged on a broken stream,
 *   dropped from a full queue. They are made by `flush` or a stream event, never inside `send`,
 *   which the host calls while it handles a Ready;
 * - `reportSnapshot(group, to, true)` when the batch holding the snapshot is acknowledged,
 *   `false` when the stream broke first, the peer was backing off, or it was dropped.
 */
import * as grpc from '@grpc/grpc-js';
import { Backoff } from '../pool/backoff.js';
import { internalCallMetadata } from '../security/internal-auth.js';
import { LEAN_CHANNEL_OPTIONS, MAX_MESSAGE_BYTES, protos } from '../wire/proto.js';
import type { ParsedRaftTransportOptions } from './raft-transport-options.js';
import type { RaftTransportCounters } from './raft-transport-stats.js';
import { RAFT_METHOD, type RaftAckMsg, type RaftBatchMsg, type RaftOutbound } from './raft-transport-wire.js';

/** Bytes a message adds to a batch besides its data (tags, lengths, the group id): an upper bound. */
const ENVELOPE_OVERHEAD_BYTES = 16;
/** Room kept in a batch for the cluster and node ids and the sequence number. */
const BATCH_OVERHEAD_BYTES = 1_024;

/** What a peer shares with the transport that owns it. */
export interface RaftPeerContext {
  options: ParsedRaftTransportOptions;
  counters: RaftTransportCounters;
  reportUnreachable(group: string, to: number): void;
  reportSnapshot(group: string, to: number, delivered: boolean): void;
}

type RaftCall = grpc.ClientDuplexStream<RaftBatchMsg, RaftAckMsg>;
type RaftClient = grpc.Client & { Raft(metadata: grpc.Metadata, options?: grpc.CallOptions): RaftCall };

function envelopeBytes(m: RaftOutbound): number {
  return m.data.byteLength + Buffer.byteLength(m.group) + ENVELOPE_OVERHEAD_BYTES;
}

export class RaftPeer {
  readonly #ctx: RaftPeerContext;
  readonly #backoff: Backoff;
  #queue: RaftOutbound[] = [];
  #queuedBytes = 0;
  /** Messages enqueued since the last flush: reported unreachable if that flush finds no stream. */
  #fresh: RaftOutbound[] = [];
  /** (group, peer) pairs to report unreachable at the end of the flush, each once. */
  readonly #unreachable = new Map<string, RaftOutbound>();
  /** Snapshots to report failed at the end of the flush. */
  #failedSnapshots: RaftOutbound[] = [];
  #client: RaftClient | null = null;
  #call: RaftCall | null = null;
  /** Sequence number of the last batch written on the current call. */
  #seq = 0;
  /** Batches written on the current call and not yet acknowledged, oldest first. */
  #unacked: { seq: number; messages: RaftOutbound[] }[] = [];
  /** Whether the current call has been acknowledged at all (the peer is really there). */
  #acked = false;
  /** Whether the last stream worked; only to log the transitions, not every failed reopen. */
  #up = true;
  #lastProblem = '';
  #closed = false;
  /** When something was last enqueued (options.now()). */
  lastUsedAt: number;

  constructor(readonly address: string, ctx: RaftPeerContext) {
    this.#ctx = ctx;
    this.#backoff = new Backoff(ctx.options.initialBackoffMs, ctx.options.maxBackoffMs);
    this.lastUsedAt = ctx.options.now();
  }

  /** Messages waiting (not counting unacknowledged batches). */
  get queued(): number {
    return this.#queue.length;
  }

  /** Nothing waiting and nothing unacknowledged. */
  get idle(): boolean {
    return this.#queue.length === 0 && this.#unacked.length === 0;
  }

  enqueue(m: RaftOutbound): void {
    if (this.#closed) return;
    this.lastUsedAt = this.#ctx.options.now();
    if (envelopeBytes(m) + BATCH_OVERHEAD_BYTES > MAX_MESSAGE_BYTES) {
      // It could never go: every server of ours refuses larger messages, and the stream would
      // break on it again and again. Space snapshots are to be streamed in chunks (issue 12).
      this.#ctx.counters.messagesUnsent++;
      this.#ctx.options.logger.error('raft message too large to send', { peer: this.address, group: m.group, bytes: m.data.byteLength });
      if (m.snapshot) this.#failedSnapshots.push(m);
      else this.#markUnreachable([m]);
      return;
    }
    this.#queue.push(m);
    this.#queuedBytes += m.data.byteLength;
    this.#fresh.push(m);
    // flush() trims to the caps; this keeps the queue bounded (at twice the caps) even if the
    // owner stops flushing.
    const { maxQueuedMessages, maxQueuedBytes } = this.#ctx.options;
    if (this.#queue.length > 2 * maxQueuedMessages || this.#queuedBytes > 2 * maxQueuedBytes) this.#trim();
  }

  /** Sends what waits, if a stream is (or may now be) open; otherwise reports it unreachable. */
  flush(now: number): void {
    const fresh = this.#fresh;
    this.#fresh = [];
    if (this.#closed) return;
    if (this.#queue.length > 0 && !this.#call) {
      if (this.#backoff.remainingMs(now) > 0) {
        this.#markUnreachable(fresh);
        // A snapshot that waited out a backoff would be stale; the leader sends a fresh one once told.
        this.#failQueuedSnapshots();
      } else {
        this.#open();
      }
    }
    this.#fill();
    this.#trim();
    this.#report();
  }

  #open(): void {
    const { options, counters } = this.#ctx;
    const client = new (protos().InternalClient)(this.address, options.credentials, {
      ...LEAN_CHANNEL_OPTIONS,
      // Its own connection, closed with the client after a break, instead of a broken subchannel
      // that the process-wide pool would hand to the reopen (see src/pool/pooled-channel.ts).
      'grpc.use_local_subchannel_pool': 1,
      'grpc.keepalive_time_ms': options.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs,
    }) as unknown as RaftClient;
    const call = client.Raft(internalCallMetadata(options.clusterKey, options.nodeId, options.clusterId)(RAFT_METHOD));
    call.on('data', (ack: RaftAckMsg) => this.#onAck(call, ack));
    // 'status' comes with every end, OK or not; 'error' repeats a failed one and must have a listener.
    call.on('status', (status: grpc.StatusObject) => this.#ended(call, status));
    call.on('error', () => undefined);
    this.#client = client;
    this.#call = call;
    this.#seq = 0;
    this.#acked = false;
    counters.streamsOpened++;
  }

  /** Writes batches of the oldest waiting messages, up to maxBatchBytes each (at least one message), while the window allows. */
  #fill(): void {
    const call = this.#call;
    const { options, counters } = this.#ctx;
    while (call && this.#queue.length > 0 && this.#unacked.length < options.maxUnackedBatches) {
      let bytes = BATCH_OVERHEAD_BYTES;
      let n = 0;
      for (const m of this.#queue) {
        const size = envelopeBytes(m);
        if (n > 0 && bytes + size > options.maxBatchBytes) break;
        bytes += size;
        n++;
      }
      const messages = this.#queue.splice(0, n);
      for (const m of messages) this.#queuedBytes -= m.data.byteLength;
      const seq = ++this.#seq;
      this.#unacked.push({ seq, messages });
      call.write({ clusterId: options.clusterId, fromNode: options.nodeId, seq, messages: messages.map((m) => ({ group: m.group, data: m.data })) } satisfies RaftBatchMsg);
      counters.batchesSent++;
      counters.messagesSent += messages.length;
    }
  }

  #onAck(call: RaftCall, ack: RaftAckMsg): void {
    if (call !== this.#call) return;
    if (!this.#acked) {
      this.#acked = true;
      this.#backoff.succeed();
      if (!this.#up) {
        this.#up = true;
        this.#lastProblem = '';
        this.#ctx.options.logger.info('raft peer reachable', { peer: this.address });
      }
    }
    while (this.#unacked.length > 0 && this.#unacked[0]!.seq <= ack.seq) {
      const { messages } = this.#unacked.shift()!;
      this.#ctx.counters.batchesAcked++;
      for (const m of messages) if (m.snapshot) this.#ctx.reportSnapshot(m.group, m.to, true);
    }
    this.#fill();
  }

  /** The call ended: a dead or restarted peer, or its refusal. Everything unacknowledged is reported. */
  #ended(call: RaftCall, status: grpc.StatusObject): void {
    if (call !== this.#call) return;
    const { options, counters } = this.#ctx;
    this.#call = null;
    this.#client?.close();
    this.#client = null;
    const lost = this.#unacked.flatMap((b) => b.messages);
    this.#unacked = [];
    counters.streamsBroken++;
    counters.messagesUnsent += lost.length;
    const waitMs = this.#backoff.fail(options.now());
    const problem = `${grpc.status[status.code] ?? status.code}: ${status.details}`;
    if (this.#up || problem !== this.#lastProblem) {
      // A refusal (another cluster, a bad key) is a configuration fault; a dead peer is weather.
      const refused = status.code === grpc.status.PERMISSION_DENIED || status.code === grpc.status.UNAUTHENTICATED;
      const code = status.metadata?.get('engram-code')[0];
      options.logger[refused ? 'error' : 'warn']('raft peer unreachable', { peer: this.address, problem, ...(typeof code === 'string' ? { code } : {}), retryInMs: waitMs });
    }
    this.#up = false;
    this.#lastProblem = problem;
    this.#failedSnapshots.push(...lost.filter((m) => m.snapshot));
    this.#markUnreachable(lost);
    this.#markUnreachable(this.#queue);
    this.#failQueuedSnapshots();
    this.#report();
  }

  #markUnreachable(messages: Iterable<RaftOutbound>): void {
    for (const m of messages) if (!m.snapshot) this.#unreachable.set(`${m.to}\n${m.group}`, m);
  }

  /** Makes the reports collected since the last one. */
  #report(): void {
    const snapshots = this.#failedSnapshots;
    this.#failedSnapshots = [];
    for (const m of snapshots) this.#ctx.reportSnapshot(m.group, m.to, false);
    for (const m of this.#unreachable.values()) this.#ctx.reportUnreachable(m.group, m.to);
    this.#unreachable.clear();
  }

  #failQueuedSnapshots(): void {
    if (!this.#queue.some((m) => m.snapshot)) return;
    const kept: RaftOutbound[] = [];
    for (const m of this.#queue) {
      if (!m.snapshot) {
        kept.push(m);
        continue;
      }
      this.#queuedBytes -= m.data.byteLength;
      this.#ctx.counters.messagesUnsent++;
      this.#failedSnapshots.push(m);
    }
    this.#queue = kept;
  }

  /** Drops the oldest messages past the caps: non-snapshots first, then (only if still over) snapshots. */
  #trim(): void {
    const { maxQueuedMessages, maxQueuedBytes } = this.#ctx.options;
    if (this.#queue.length <= maxQueuedMessages && this.#queuedBytes <= maxQueuedBytes) return;
    let excessCount = this.#queue.length - maxQueuedMessages;
    let excessBytes = this.#queuedBytes - maxQueuedBytes;
    const dropped: RaftOutbound[] = [];
    for (const snapshots of [false, true]) {
      const kept: RaftOutbound[] = [];
      for (const m of this.#queue) {
        if (m.snapshot === snapshots && (excessCount > 0 || excessBytes > 0)) {
          dropped.push(m);
          excessCount--;
          excessBytes -= m.data.byteLength;
        } else {
          kept.push(m);
        }
      }
      this.#queue = kept;
    }
    for (const m of dropped) this.#queuedBytes -= m.data.byteLength;
    this.#ctx.counters.messagesDropped += dropped.length;
    this.#markUnreachable(dropped);
    this.#failedSnapshots.push(...dropped.filter((m) => m.snapshot));
  }

  /** Cancels the stream and forgets the queue; nothing is reported (the host is going away). */
  close(): void {
    this.#closed = true;
    const call = this.#call;
    this.#call = null;
    this.#unacked = [];
    call?.cancel();
    this.#client?.close();
    this.#client = null;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#fresh = [];
    this.#unreachable.clear();
    this.#failedSnapshots = [];
  }
}

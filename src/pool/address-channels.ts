/**
 * The channels of one node address: which one takes the next call, when another is opened, and
 * the backoff after a transport failure. Every change of the channel list goes through acquire()
 * and evict().
 */
import { Backoff } from './backoff.js';
import { ConnectionBackoffError } from '../errors.js';
import { PooledChannel } from './pooled-channel.js';
import type { ParsedPoolOptions } from './pool-options.js';

export interface Lease {
  channel: PooledChannel;
  /** The channel existed before this call. */
  reused: boolean;
}

export class AddressChannels {
  readonly channels: PooledChannel[] = [];
  readonly #backoff: Backoff;
  #lastFailure: unknown;

  constructor(readonly address: string, private readonly options: ParsedPoolOptions) {
    this.#backoff = new Backoff(options.initialBackoffMs, options.maxBackoffMs);
  }

  /**
   * A channel for one more call. The oldest channel with a free stream wins, so extra channels
   * carry only the overflow and fall idle once the pressure ends. Throws ConnectionBackoffError
   * while the address is backing off.
   */
  acquire(): Lease {
    const wait = this.#backoff.remainingMs(this.options.now());
    if (wait > 0) throw new ConnectionBackoffError(this.address, wait, this.#lastFailure);
    let channel = this.channels.find((c) => c.inFlight < this.options.maxStreamsPerChannel);
    const reused = channel !== undefined;
    if (!channel) {
      channel = new PooledChannel(this.address, this.options);
      this.channels.push(channel);
      this.options.metrics?.connectionCreated(this.address);
    }
    channel.inFlight++;
    this.options.metrics?.connectionCall(this.address, reused);
    return { channel, reused };
  }

  release(channel: PooledChannel): void {
    channel.inFlight--;
  }

  /** A call on `channel` got an answer (any status the server sent): the address is reachable. */
  succeeded(): void {
    this.#backoff.succeed();
    this.#lastFailure = undefined;
  }

  /**
   * Closes `channel` after a transport failure and starts (or lengthens) the backoff. Calls that
   * were in flight on a dead connection fail together; only the first of them evicts and steps
   * the backoff, so one outage costs one doubling. Returns whether it evicted.
   */
  evict(channel: PooledChannel, cause: unknown): boolean {
    const i = this.channels.indexOf(channel);
    if (i < 0) return false;
    this.channels.splice(i, 1);
    channel.close();
    this.#backoff.fail(this.options.now());
    this.#lastFailure = cause;
    this.options.metrics?.connectionEvicted(this.address);
    return true;
  }

  inFlight(): number {
    let n = 0;
    for (const c of this.channels) n += c.inFlight;
    return n;
  }

  close(): void {
    for (const c of this.channels) c.close();
    this.channels.length = 0;
  }
}

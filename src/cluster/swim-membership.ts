/**
 * SWIM membership (DESIGN §5): foca runs inside the addon, I/O-free; this class owns the UDP
 * socket and the timers and carries datagrams, fired timers and membership changes across.
 *
 * Events: `member-up` (alive: joined, refuted a suspicion, or returned with a new incarnation),
 * `member-suspect`, `member-down` (stopped answering), `member-left` (left on purpose), each with
 * the `Member`; and `change` with every one of them.
 */
import { createSocket, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { randomBytes, randomInt } from 'node:crypto';
import { InvalidArgumentError, NativeUnavailableError } from '../errors.js';
import { nativeBinding } from '../native/binding.js';
import type { NativeSwimMember, NativeSwimMemberView } from '../native/types.js';
import type { Member, MemberState } from './cluster-view.js';
import { openEnvelope, sealEnvelope, sealOverheadBytes } from './swim-auth.js';
import { ReplayGuard } from './swim-replay.js';
import { parseSwimTiming, type SwimTiming, type SwimTimingOptions } from './swim-options.js';

export interface SwimMembershipOptions extends SwimTimingOptions {
  /** Stable node id, unique in the cluster. */
  id: string;
  /** HOST:PORT of this node's gRPC services, told to every member. */
  grpcAddress: string;
  /** HOST:PORT to bind the UDP socket to (and advertise, without `advertiseAddress`); port 0 picks a free port. */
  gossipAddress: string;
  /**
   * HOST:PORT members are told to send to, when it differs from the bind address (a wildcard
   * bind, NAT); port 0 means the bound port. Default: the bind address, which then must not be a
   * wildcard (0.0.0.0 or ::), since no member could send to that.
   */
  advertiseAddress?: string;
  /** Shared secret (`--cluster-key`); datagrams without its HMAC tag are dropped. */
  clusterKey: string | Uint8Array;
  /** Must grow across restarts of one node. Default `Date.now()`. */
  incarnation?: number;
}

export type SwimEvent = 'member-up' | 'member-suspect' | 'member-down' | 'member-left';
const EVENT: Record<MemberState, SwimEvent> = { alive: 'member-up', suspect: 'member-suspect', down: 'member-down', left: 'member-left' };

/** Whether `host` means every interface (a bind address no peer can send to). */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '0:0:0:0:0:0:0:0';
}

export function parseHostPort(field: string, address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65_535) throw new InvalidArgumentError(field, address, 'must be HOST:PORT');
  return { host: (m[1] ?? m[2])!, port };
}

function toMember(v: NativeSwimMemberView): Member {
  const state = v.state as MemberState;
  return { id: v.id, gossipAddress: v.gossipAddress, grpcAddress: v.grpcAddress, incarnation: v.incarnation, state };
}

export class SwimMembership extends EventEmitter {
  readonly timing: SwimTiming;
  /**
   * The address members know this node by and send to (HOST:PORT, the real port when 0 was
   * asked for): the advertised address, else where the socket is bound.
   */
  readonly gossipAddress: string;
  readonly #socket: Socket;
  readonly #key: Uint8Array;
  readonly #native: NativeSwimMember;
  readonly #timers = new Map<number, NodeJS.Timeout>();
  /** The member list as of the last change (see members()). */
  #members: Member[] | undefined;
  #dropped = 0;
  #replayed = 0;
  #refused = 0;
  /** Random per start, so a restarted member's counters never collide with its last life's. */
  readonly #epoch = randomBytes(8).readBigUInt64BE(0);
  #counter = 0n;
  readonly #replays = new ReplayGuard();
  #closed = false;
  /**
   * Test-only fault switch (the node enables it only with --enable-faults): while true, every
   * datagram in and out is dropped, as if this node's network were cut.
   */
  cutOff = false;
  #listVersion = 0;

  private constructor(socket: Socket, gossipAddress: string, native: NativeSwimMember, key: Uint8Array, timing: SwimTiming) {
    super();
    this.#socket = socket;
    this.gossipAddress = gossipAddress;
    this.#native = native;
    this.#key = key;
    this.timing = timing;
    socket.on('message', (datagram) => this.#receive(datagram));
    // A send to a closed peer can surface as an ICMP error on the socket; SWIM already treats
    // silence as failure, so it is not ours to report.
    socket.on('error', () => {});
  }

  /** Binds the socket and starts the member; it is alone until `join()`. */
  static async start(options: SwimMembershipOptions): Promise<SwimMembership> {
    const timing = parseSwimTiming(options);
    if (!options.id) throw new InvalidArgumentError('id', options.id, 'must not be empty');
    parseHostPort('grpcAddress', options.grpcAddress);
    const { host, port } = parseHostPort('gossipAddress', options.gossipAddress);
    const advertised = options.advertiseAddress !== undefined ? parseHostPort('advertiseAddress', options.advertiseAddress) : undefined;
    if (advertised && isWildcardHost(advertised.host)) throw new InvalidArgumentError('advertiseAddress', options.advertiseAddress, 'must name an address members can send to, not a wildcard');
    if (!advertised && isWildcardHost(host)) throw new InvalidArgumentError('gossipAddress', options.gossipAddress, 'a wildcard bind address needs an advertised address (--advertise / advertiseAddress) for members to send to');
    const key = typeof options.clusterKey === 'string' ? Buffer.from(options.clusterKey, 'utf8') : options.clusterKey;
    if (key.byteLength === 0) throw new InvalidArgumentError('clusterKey', '', 'must not be empty');
    const binding = nativeBinding();
    if (!binding) throw new NativeUnavailableError('SWIM membership needs the native addon (foca)', undefined);

    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const bound = socket.address();
    const told = advertised ?? { host, port: 0 };
    const toldPort = told.port === 0 ? bound.port : told.port;
    const gossipAddress = told.host.includes(':') ? `[${told.host}]:${toldPort}` : `${told.host}:${toldPort}`;
    let native: NativeSwimMember;
    try {
      native = new binding.SwimMember(
        { id: options.id, gossipAddress, grpcAddress: options.grpcAddress, incarnation: options.incarnation ?? Date.now() },
        {
          probePeriodMs: timing.probePeriodMs,
          probeTimeoutMs: timing.probeTimeoutMs,
          suspectToDownMs: timing.suspectToDownMs,
          removeDownAfterMs: timing.removeDownAfterMs,
          gossipPeriodMs: timing.gossipPeriodMs,
          announcePeriodMs: timing.announcePeriodMs,
          indirectProbes: timing.indirectProbes,
          maxTransmissions: timing.maxTransmissions,
          maxPacketBytes: timing.maxDatagramBytes - sealOverheadBytes(gossipAddress),
          seed: randomInt(0, 2 ** 32),
        },
      );
    } catch (error) {
      socket.close();
      throw error;
    }
    const membership = new SwimMembership(socket, gossipAddress, native, key, timing);
    membership.#flush();
    return membership;
  }

  /** Datagrams dropped for a missing or wrong cluster-key tag, or too short to carry one. */
  get droppedPackets(): number {
    return this.#dropped;
  }

  /** Authenticated datagrams dropped because they were received before (a replay; swim-replay.ts). */
  get replayedPackets(): number {
    return this.#replayed;
  }

  /** Authenticated datagrams foca refused (malformed, oversized, addressed to an old identity). */
  get refusedPackets(): number {
    return this.#refused;
  }

  self(): Member {
    return this.members().find((m) => m.gossipAddress === this.gossipAddress)!;
  }

  /** Bumped whenever `members()` may have changed: callers that derive views from it cache on this. */
  get listVersion(): number {
    return this.#listVersion;
  }

  /** Every member this node knows of, itself included, one per node id, sorted by id. */
  members(): Member[] {
    // Every query plans against this list: build it once per membership change, not per call.
    this.#members ??= this.#native.members().map((v) => Object.freeze(toMember(v)));
    return [...this.#members];
  }

  /** Asks each seed (HOST:PORT) for the member list; the answers arrive as `member-up` events. */
  join(seeds: string[]): void {
    for (const [i, seed] of seeds.entries()) {
      parseHostPort(`seeds[${i}]`, seed);
      if (seed !== this.gossipAddress && !this.#closed) this.#native.announce(seed);
    }
    this.#flush();
  }

  /** Graceful leave: tells a few members (who spread it) that this node is `left`, then closes. */
  async leave(): Promise<void> {
    if (this.#closed) return;
    this.#native.leave();
    this.#members = undefined;
    this.#listVersion++;
    await this.#flush();
    await this.close();
  }

  /** Stops without telling anyone (the cluster will find this node down); clears every timer. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  #receive(datagram: Buffer): void {
    if (this.#closed || this.cutOff) return;
    const envelope = openEnvelope(this.#key, datagram);
    if (!envelope) {
      this.#dropped++;
      return;
    }
    if (!this.#replays.accept(envelope.sender, envelope.epoch, envelope.counter)) {
      this.#replayed++;
      return;
    }
    if (this.#native.handleData(envelope.payload) !== null) this.#refused++;
    this.#flush();
  }

  #fire(token: number): void {
    this.#timers.delete(token);
    if (this.#closed) return;
    this.#native.handleTimer(token);
    this.#flush();
  }

  /** The one place foca's effects are carried out; resolves when its datagrams are handed to the OS. */
  #flush(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const effects = this.#native.drain();
    for (const { delayMs, token } of effects.timers) {
      this.#timers.set(token, setTimeout(() => this.#fire(token), delayMs).unref());
    }
    const sent = (this.cutOff ? [] : effects.packets).map(({ to, data }) => {
      const { host, port } = parseHostPort('to', to);
      const datagram = sealEnvelope(this.#key, { sender: this.gossipAddress, epoch: this.#epoch, counter: ++this.#counter, payload: data });
      return new Promise<void>((resolve) => this.#socket.send(datagram, port, host, () => resolve()));
    });
    if (effects.changes.length > 0) {
      this.#members = undefined;
      this.#listVersion++;
    }
    for (const view of effects.changes) {
      const member = toMember(view);
      this.emit(EVENT[member.state], member);
      this.emit('change', member);
    }
    return Promise.all(sent).then(() => undefined);
  }
}

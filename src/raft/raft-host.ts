/**
 * A node's Raft groups with their durable store: the addon's `RaftGroups` (I/O-free) plus the
 * one place a Ready is handled, in this order:
 *   1. persist the snapshot, entries and hard state, and fsync (RaftStore.persistReady);
 *   2. send the messages (a vote or an append acknowledgement must never leave before what it
 *      promises is on disk; the leader's own appends could go earlier, raft thesis 10.2.1, but
 *      one rule is simpler to check);
 *   3. apply the snapshot, then the committed entries, in order;
 *   4. hand out read states and leadership changes;
 *   5. advance.
 * The host does no I/O of its own beyond the store: the caller ticks it (`tick`), carries
 * messages (`RaftTransport.send` out, `step` in) and calls `processReadies` after anything that
 * may have produced a Ready. Messages may be stepped while a Ready's fsync is in flight.
 */
import { NativeUnavailableError, StorageError } from '../errors.js';
import { nativeBinding } from '../native/binding.js';
import { raftCall, RaftError, RAFT_CODES } from './raft-errors.js';
import type {
  NativeRaftGroups,
  RaftCommittedEntry,
  RaftConfChange,
  RaftGroupOptions,
  RaftReadState,
  RaftSoftState,
  RaftStatus,
} from './raft-native-types.js';
import { RaftStore, type RaftWarnFn } from './raft-store.js';

/** Carries messages to peers; fire and forget (Raft retries). */
export interface RaftTransport {
  /**
   * `data` is for raft id `to` in `group` (its host's `step`). A snapshot message's outcome must
   * be reported back with `reportSnapshot`: the leader holds that peer until told.
   */
  send(group: string, to: number, data: Uint8Array, isSnapshot: boolean): void;
}

/** The application's side: what committed entries mean. */
export interface RaftStateMachine {
  /** Replace the group's state with a snapshot's `data` (at `index`): at load and from a leader. */
  applySnapshot(group: string, snapshot: { index: number; term: number; data: Uint8Array }): void | Promise<void>;
  /** Apply one committed entry; called in log order, again from the snapshot on after a restart. */
  apply(group: string, entry: RaftCommittedEntry): void | Promise<void>;
  /** Leader, role or term changed. */
  softState?(group: string, state: RaftSoftState): void;
  /** A read index answer: reads for its context are linearizable once `index` is applied. */
  readState?(group: string, state: RaftReadState): void;
}

export interface RaftHostOptions {
  transport: RaftTransport;
  stateMachine: RaftStateMachine;
  /** Options of every group this host creates or restores. */
  groupOptions?: RaftGroupOptions;
  /** Options of one group, when groups differ (overrides `groupOptions`). */
  groupOptionsFor?: (group: string) => RaftGroupOptions | undefined;
  /** One line per repair made while loading (a torn tail cut). Default: ignored. */
  warn?: RaftWarnFn;
}

export class RaftHost {
  readonly store: RaftStore;
  readonly #native: NativeRaftGroups;
  readonly #options: RaftHostOptions;
  #running: Promise<void> | null = null;
  #again = false;

  private constructor(store: RaftStore, native: NativeRaftGroups, options: RaftHostOptions) {
    this.store = store;
    this.#native = native;
    this.#options = options;
  }

  /**
   * Opens the store under `dataDir` and restores every group found there: the state machine
   * gets each snapshot now, and the committed entries after it at the next `processReadies`.
   */
  static async open(dataDir: string, options: RaftHostOptions): Promise<RaftHost> {
    const binding = nativeBinding();
    if (!binding) throw new NativeUnavailableError('Raft needs the native addon (ENGRAM_NATIVE is off or it did not load)', undefined);
    const store = await RaftStore.open(dataDir, options.warn);
    const host = new RaftHost(store, new binding.RaftGroups(), options);
    try {
      for (const group of await store.list()) {
        const loaded = await store.load(group);
        raftCall(group, () => host.#native.restore(group, loaded.id, loaded.state, options.groupOptionsFor?.(group) ?? options.groupOptions));
        if (loaded.snapshot && loaded.snapshot.index > 0) await options.stateMachine.applySnapshot(group, loaded.snapshot);
      }
    } catch (e) {
      await store.close();
      throw e;
    }
    return host;
  }

  /** Hosted group ids, sorted. */
  groups(): string[] {
    return this.#native.groups();
  }

  /**
   * Creates a group, durable before resolving. With voters, this node bootstraps it (every
   * initial member is created with the same voters and learners); with none it joins an
   * existing group, which its leader then adds with a conf change.
   */
  async createGroup(group: string, id: number, voters: number[] = [], learners: number[] = []): Promise<void> {
    const bootstrap = raftCall(group, () => this.#native.create(group, id, voters, learners, this.#options.groupOptionsFor?.(group) ?? this.#options.groupOptions));
    try {
      await this.store.create(group, id, bootstrap);
    } catch (e) {
      this.#native.remove(group);
      throw e;
    }
  }

  propose(group: string, data: Uint8Array, context?: Uint8Array): void {
    raftCall(group, () => this.#native.propose(group, data, context));
  }

  proposeConfChange(group: string, changes: RaftConfChange[], context?: Uint8Array): void {
    raftCall(group, () => this.#native.proposeConfChange(group, changes, context));
  }

  /** A message from a peer. Refusals that are part of normal operation (ERR_RAFT_STEP) are returned, not thrown. */
  step(group: string, data: Uint8Array): RaftError | null {
    try {
      raftCall(group, () => this.#native.step(group, data));
      return null;
    } catch (e) {
      if (e instanceof RaftError && (e.code === RAFT_CODES.STEP || e.code === RAFT_CODES.NO_GROUP || e.code === RAFT_CODES.PROPOSAL_DROPPED)) return e;
      throw e;
    }
  }

  /** One tick of every group; returns groups raft-rs fenced off during it (reload them). */
  tick(): string[] {
    return this.#native.tick();
  }

  campaign(group: string): void {
    raftCall(group, () => this.#native.campaign(group));
  }

  transferLeader(group: string, to: number): void {
    raftCall(group, () => this.#native.transferLeader(group, to));
  }

  readIndex(group: string, context: Uint8Array): void {
    raftCall(group, () => this.#native.readIndex(group, context));
  }

  reportUnreachable(group: string, peer: number): void {
    raftCall(group, () => this.#native.reportUnreachable(group, peer));
  }

  reportSnapshot(group: string, peer: number, delivered: boolean): void {
    raftCall(group, () => this.#native.reportSnapshot(group, peer, delivered));
  }

  status(group: string): RaftStatus {
    return raftCall(group, () => this.#native.status(group));
  }

  /**
   * Makes `data` (the state machine at applied `index`) the group's snapshot, durable, and drops
   * the log up to it, in memory and on disk.
   */
  async compact(group: string, index: number, data: Uint8Array): Promise<void> {
    const snapshot = raftCall(group, () => this.#native.compact(group, index, data));
    await this.store.compact(group, snapshot);
  }

  /**
   * Handles every pending Ready until none is left. Concurrent calls share one run (which
   * looks again before it ends). A store failure removes the group from memory (what raft-rs
   * holds may now be ahead of the disk) and rejects; reload it from disk.
   */
  processReadies(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    // `finally` runs as a microtask, after `#running` is set, even when there was nothing to do.
    const run = this.#drain().finally(() => {
      this.#running = null;
    });
    this.#running = run;
    return run;
  }

  async #drain(): Promise<void> {
    // One scan of every group per round (a node may hold a thousand): a round that found none
    // ends the drain unless a pump asked again meanwhile.
    let found: string[];
    do {
      this.#again = false;
      found = this.#native.readyGroups();
      for (const group of found) await this.#handleReady(group);
    } while (this.#again || found.length > 0);
  }

  async #handleReady(group: string): Promise<void> {
    const ready = raftCall(group, () => this.#native.takeReady(group));
    if (!ready) return;
    try {
      // Most Readies of an idle group carry only heartbeats and their answers: nothing to write.
      if (ready.hardState || ready.snapshot || ready.entries.length > 0) await this.store.persistReady(group, ready);
    } catch (e) {
      this.#native.remove(group);
      throw e instanceof StorageError ? e : new StorageError(this.store.dir, `raft group ${JSON.stringify(group)}: cannot persist a Ready`, e);
    }
    const { transport, stateMachine } = this.#options;
    for (const m of ready.messages) transport.send(group, m.to, m.data, m.snapshot);
    if (ready.snapshot) await stateMachine.applySnapshot(group, ready.snapshot);
    for (const entry of ready.committed) await stateMachine.apply(group, entry);
    if (ready.softState) stateMachine.softState?.(group, ready.softState);
    for (const rs of ready.readStates) stateMachine.readState?.(group, rs);
    raftCall(group, () => this.#native.advance(group, ready.number));
  }

  /** Waits for the Ready in progress, then closes the store. */
  async close(): Promise<void> {
    await this.#running?.catch(() => undefined);
    await this.store.close();
  }
}

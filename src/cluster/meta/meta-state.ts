/**
 * The metadata group's state machine (DESIGN §5): cluster id, members, spaces and the group's
 * own configuration. Pure and deterministic: no clock, no randomness, no I/O, no iteration order
 * that depends on anything but the commands applied. Every node applies the same committed
 * commands in the same order and so holds the same state, which `digest()` lets anyone check.
 *
 * `apply` is the only mutation. A command that cannot take effect (a stale placement, a create
 * with another dimension) is not an error: it is a result every node computes alike, handed
 * back to whoever proposed it.
 */
import { createHash } from 'node:crypto';
import { readCommand } from './meta-command-codec.js';
import { decodeSnapshot, encodeSnapshot } from './meta-snapshot.js';
import type {
  BootstrapCommand, CreateSpaceCommand, JoinMemberCommand, MetaCommand, MetaConfigCommand, MetaMember, MetaRejectReason,
  MetaRejected, MetaResult, MetaSpace, MetaStateView, RemoveMemberCommand, SetCopiesCommand, SetLeaderHintCommand,
} from './meta-types.js';

export class MetaState {
  #clusterId: string | null = null;
  /** By node id. */
  readonly #members = new Map<string, MetaMember>();
  /** Raft id → node id, for the members above. */
  readonly #raftIds = new Map<number, string>();
  readonly #spaces = new Map<string, MetaSpace>();
  #voters: readonly number[] = Object.freeze([]);
  #learners: readonly number[] = Object.freeze([]);
  /** Cached canonical bytes; cleared by every change. */
  #snapshot: Uint8Array | undefined;
  #digest: string | undefined;

  /** The state before any command: no cluster, no members, no spaces. */
  static empty(): MetaState {
    return new MetaState();
  }

  /** The state a snapshot holds; throws MetaDecodeError (MetaVersionError for a newer format). */
  static restore(snapshot: Uint8Array): MetaState {
    const view = decodeSnapshot(snapshot);
    const state = new MetaState();
    state.#clusterId = view.clusterId;
    for (const m of view.members) state.#putMember(m);
    for (const s of view.spaces) state.#spaces.set(s.id, s);
    state.#voters = view.voters;
    state.#learners = view.learners;
    return state;
  }

  get clusterId(): string | null {
    return this.#clusterId;
  }

  member(nodeId: string): MetaMember | undefined {
    return this.#members.get(nodeId);
  }

  /** The member whose raft id this is now (a wiped member's old raft id maps to nobody). */
  memberByRaftId(raftId: number): MetaMember | undefined {
    const nodeId = this.#raftIds.get(raftId);
    return nodeId === undefined ? undefined : this.#members.get(nodeId);
  }

  space(id: string): MetaSpace | undefined {
    return this.#spaces.get(id);
  }

  /** Members sorted by node id. */
  members(): MetaMember[] {
    return sortedValues(this.#members);
  }

  /** Spaces sorted by id. */
  spaces(): MetaSpace[] {
    return sortedValues(this.#spaces);
  }

  voters(): readonly number[] {
    return this.#voters;
  }

  learners(): readonly number[] {
    return this.#learners;
  }

  /** The whole state in canonical order (frozen). */
  view(): MetaStateView {
    return Object.freeze({
      clusterId: this.#clusterId,
      members: Object.freeze(this.members()),
      spaces: Object.freeze(this.spaces()),
      voters: this.#voters,
      learners: this.#learners,
    });
  }

  /** Canonical bytes of the state, for a Raft snapshot; `MetaState.restore` reads them back. */
  snapshot(): Uint8Array {
    this.#snapshot ??= encodeSnapshot(this.view());
    return this.#snapshot.slice();
  }

  /** SHA-256 (hex) of the snapshot bytes: equal on two nodes exactly when their states are equal. */
  digest(): string {
    this.#digest ??= createHash('sha256').update(this.#snapshot ??= encodeSnapshot(this.view())).digest('hex');
    return this.#digest;
  }

  /**
   * Applies one committed command and returns what it did. The command is checked as decoding
   * checks it (MetaDecodeError for a malformed one: a programming error of the caller, since
   * committed bytes reach here through `decodeCommand`).
   */
  apply(command: MetaCommand): MetaResult {
    const c = readCommand(command);
    if (c.kind === 'metaConfig') return this.#metaConfig(c);
    if (c.kind === 'bootstrap') return this.#bootstrap(c);
    // The cluster exists from its bootstrap command on; before it, only the group's own
    // configuration (the bootstrap conf change entries, which precede it in the log) applies.
    if (this.#clusterId === null) return rejected(c, 'notBootstrapped', 'the cluster is not bootstrapped yet');
    switch (c.kind) {
      case 'joinMember':
        return this.#joinMember(c);
      case 'removeMember':
        return this.#removeMember(c);
      case 'createSpace':
        return this.#createSpace(c);
      case 'setCopies':
        return this.#setCopies(c);
      case 'setLeaderHint':
        return this.#setLeaderHint(c);
    }
  }

  #bootstrap(c: BootstrapCommand): MetaResult {
    if (this.#clusterId === c.clusterId) return { status: 'exists', requestId: c.requestId, kind: 'bootstrap', clusterId: c.clusterId };
    if (this.#clusterId !== null) return rejected(c, 'otherCluster', `this group belongs to cluster ${this.#clusterId}, not ${c.clusterId}`);
    this.#changed();
    this.#clusterId = c.clusterId;
    this.#putMember(c.member);
    return { status: 'ok', requestId: c.requestId, kind: 'bootstrap', changed: true, member: c.member };
  }

  #joinMember(c: JoinMemberCommand): MetaResult {
    const m = c.member;
    // The raft id is taken as proposed, not checked against raftIdOf(node id, storage id): what
    // a logged command did must not change if that derivation ever does. Uniqueness is checked.
    const holder = this.#raftIds.get(m.raftId);
    if (holder !== undefined && holder !== m.nodeId) {
      return rejected(c, 'raftIdInUse', `raft id ${m.raftId} is ${holder}'s; ${m.nodeId} needs another storage id`);
    }
    const current = this.#members.get(m.nodeId);
    if (current && sameMember(current, m)) return { status: 'ok', requestId: c.requestId, kind: 'joinMember', changed: false, member: current };
    this.#changed();
    if (current) this.#raftIds.delete(current.raftId);
    this.#putMember(m);
    return { status: 'ok', requestId: c.requestId, kind: 'joinMember', changed: true, member: m };
  }

  #removeMember(c: RemoveMemberCommand): MetaResult {
    const current = this.#members.get(c.nodeId);
    if (!current) return { status: 'ok', requestId: c.requestId, kind: 'removeMember', changed: false };
    this.#changed();
    this.#members.delete(c.nodeId);
    this.#raftIds.delete(current.raftId);
    // Copies are left where they are: the data is still there until allocation moves it, and
    // dropping the name would lose track of it.
    const heldCopiesOf = this.spaces().filter((s) => s.copies.includes(c.nodeId)).map((s) => s.id);
    return { status: 'ok', requestId: c.requestId, kind: 'removeMember', changed: true, member: current, heldCopiesOf };
  }

  #createSpace(c: CreateSpaceCommand): MetaResult {
    const existing = this.#spaces.get(c.space);
    // The compare-and-set: whoever's create commits first wins; every later one learns of it.
    if (existing) {
      if (existing.dimension === c.dimension) return { status: 'exists', requestId: c.requestId, kind: 'createSpace', space: existing };
      return { status: 'conflict', requestId: c.requestId, kind: 'createSpace', space: existing, existingDimension: existing.dimension, requestedDimension: c.dimension };
    }
    const unknown = c.copies.filter((id) => !this.#members.has(id));
    if (unknown.length > 0) return this.#stalePlacement(c, unknown);
    const space: MetaSpace = Object.freeze({ id: c.space, dimension: c.dimension, copies: c.copies, leaderHint: c.copies[0]! });
    this.#changed();
    this.#spaces.set(space.id, space);
    return { status: 'ok', requestId: c.requestId, kind: 'createSpace', changed: true, space };
  }

  #setCopies(c: SetCopiesCommand): MetaResult {
    const current = this.#spaces.get(c.space);
    if (!current) return rejected(c, 'noSuchSpace', `memory space "${c.space}" does not exist`);
    if (!sameList(current.copies, c.expected)) {
      return { ...rejected(c, 'copiesChanged', `memory space "${c.space}" is now on ${current.copies.join(', ')}, not ${c.expected.join(', ')}`), space: current };
    }
    // Copies already listed may stay even if their node left (they are what is being moved off);
    // a node a copy is moved onto must be a member now.
    const unknown = c.copies.filter((id) => !current.copies.includes(id) && !this.#members.has(id));
    if (unknown.length > 0) return this.#stalePlacement(c, unknown);
    if (sameList(current.copies, c.copies)) return { status: 'ok', requestId: c.requestId, kind: 'setCopies', changed: false, space: current };
    const leaderHint = c.copies.includes(current.leaderHint) ? current.leaderHint : c.copies[0]!;
    const space: MetaSpace = Object.freeze({ ...current, copies: c.copies, leaderHint });
    this.#changed();
    this.#spaces.set(space.id, space);
    return { status: 'ok', requestId: c.requestId, kind: 'setCopies', changed: true, space };
  }

  #setLeaderHint(c: SetLeaderHintCommand): MetaResult {
    const current = this.#spaces.get(c.space);
    if (!current) return rejected(c, 'noSuchSpace', `memory space "${c.space}" does not exist`);
    if (!current.copies.includes(c.leader)) return { ...rejected(c, 'notACopy', `${c.leader} holds no copy of memory space "${c.space}"`), space: current };
    if (current.leaderHint === c.leader) return { status: 'ok', requestId: c.requestId, kind: 'setLeaderHint', changed: false, space: current };
    const space: MetaSpace = Object.freeze({ ...current, leaderHint: c.leader });
    this.#changed();
    this.#spaces.set(space.id, space);
    return { status: 'ok', requestId: c.requestId, kind: 'setLeaderHint', changed: true, space };
  }

  #metaConfig(c: MetaConfigCommand): MetaResult {
    if (sameList(this.#voters, c.voters) && sameList(this.#learners, c.learners)) {
      return { status: 'ok', requestId: c.requestId, kind: 'metaConfig', changed: false };
    }
    this.#changed();
    this.#voters = c.voters;
    this.#learners = c.learners;
    return { status: 'ok', requestId: c.requestId, kind: 'metaConfig', changed: true };
  }

  #stalePlacement(c: CreateSpaceCommand | SetCopiesCommand, unknown: string[]): MetaRejected {
    return {
      ...rejected(c, 'unknownMembers', `${unknown.join(', ')} ${unknown.length === 1 ? 'is not a member' : 'are not members'}: place memory space "${c.space}" again`),
      nodes: unknown,
    };
  }

  #putMember(m: MetaMember): void {
    this.#members.set(m.nodeId, m);
    this.#raftIds.set(m.raftId, m.nodeId);
  }

  #changed(): void {
    this.#snapshot = undefined;
    this.#digest = undefined;
  }
}

function rejected(c: MetaCommand, reason: MetaRejectReason, message: string): MetaRejected {
  return { status: 'rejected', requestId: c.requestId, kind: c.kind, reason, message };
}

function sameMember(a: MetaMember, b: MetaMember): boolean {
  return a.storageId === b.storageId && a.raftId === b.raftId && a.grpcAddress === b.grpcAddress && a.gossipAddress === b.gossipAddress;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// Code-unit order, not localeCompare: the canonical form must not depend on a node's locale.
function sortedValues<T>(map: ReadonlyMap<string, T>): T[] {
  return [...map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((k) => map.get(k)!);
}

/**
 * What the query library needs to know about the cluster (DESIGN §5), as interfaces: the library
 * consumes these and never our SWIM / assignment implementations, so an Engram node that brings
 * its own membership only has to implement `ClusterView`.
 */
import { InvalidArgumentError } from '../errors.js';

/** SWIM states: `suspect` missed a probe, `down` was confirmed dead, `left` departed on purpose. */
export type MemberState = 'alive' | 'suspect' | 'down' | 'left';

export interface Member {
  /** Stable node id, unique in the cluster. */
  id: string;
  /** Where the node's gRPC services listen, HOST:PORT. */
  grpcAddress: string;
  /** Where the node's gossip (UDP) socket listens, HOST:PORT. */
  gossipAddress: string;
  state: MemberState;
  /** Bumped by a node each time it (re)joins, so a restarted node supersedes its old identity. */
  incarnation: number;
}

/** Where a memory space lives: one primary and its replicas, in preference order. */
export interface SpaceAssignment {
  space: string;
  /** Node id of the copy that takes writes. */
  primary: string;
  /** Node ids holding copies, in the order a reader should fall back to them; never the primary. */
  replicas: string[];
  /** Embedding dimension of the space: every copy creates the space with it. */
  dimension: number;
  /** Version of the assignment table that last changed this entry. */
  version: number;
}

/** The cluster as seen from one node; every method is a cheap, synchronous snapshot read. */
export interface ClusterView {
  /** This node. */
  self(): Member;
  /** Every member this node knows of, self included, in any state. */
  members(): Member[];
  member(id: string): Member | undefined;
  /** Where a space lives, or undefined when no node has it assigned. */
  assignment(space: string): SpaceAssignment | undefined;
  /** Every space the cluster knows, sorted by id (what a broadcast query covers). */
  spaces(): string[];
  /** Whether this node sees itself cut off from too much of the cluster (it adds to the penalty). */
  isPartitioned(): boolean;
}

export interface StaticClusterViewOptions {
  /** Id of this node; must be one of `members`. */
  self: string;
  members: Member[];
  /** Default: none. */
  assignments?: SpaceAssignment[];
  /** Default false. */
  partitioned?: boolean;
}

/**
 * A fixed cluster: for callers that manage membership themselves and for tests. Inputs are
 * copied and frozen, so later changes to the caller's objects do not leak in.
 */
export class StaticClusterView implements ClusterView {
  readonly #self: Member;
  readonly #members: Map<string, Member>;
  readonly #assignments: Map<string, SpaceAssignment>;
  readonly #partitioned: boolean;

  constructor(options: StaticClusterViewOptions) {
    this.#members = new Map();
    options.members.forEach((m, i) => {
      if (this.#members.has(m.id)) throw new InvalidArgumentError(`members[${i}].id`, m.id, 'duplicate member id');
      this.#members.set(m.id, Object.freeze({ ...m }));
    });
    const self = this.#members.get(options.self);
    if (!self) throw new InvalidArgumentError('self', options.self, 'not one of the members');
    this.#self = self;
    this.#assignments = new Map();
    (options.assignments ?? []).forEach((a, i) => {
      if (this.#assignments.has(a.space)) throw new InvalidArgumentError(`assignments[${i}].space`, a.space, 'duplicate space');
      this.#assignments.set(a.space, Object.freeze({ ...a, replicas: Object.freeze([...a.replicas]) as string[] }));
    });
    this.#partitioned = options.partitioned ?? false;
  }

  self(): Member {
    return this.#self;
  }

  members(): Member[] {
    return [...this.#members.values()];
  }

  member(id: string): Member | undefined {
    return this.#members.get(id);
  }

  spaces(): string[] {
    return [...this.#assignments.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  assignment(space: string): SpaceAssignment | undefined {
    return this.#assignments.get(space);
  }

  isPartitioned(): boolean {
    return this.#partitioned;
  }
}

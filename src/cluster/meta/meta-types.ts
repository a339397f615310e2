/**
 * Types of the metadata group's state machine (DESIGN §5, issue 11): what the committed table
 * holds, the commands that change it and the result each command has when applied. Everything
 * here is plain data, so a result can travel back to the proposer and a state can be compared.
 */

/** A member of the cluster as the metadata group committed it. */
export interface MetaMember {
  /** Stable node id: 1–64 characters of `[A-Za-z0-9_.-]`. */
  readonly nodeId: string;
  /** UUID of the member's data directory (src/cluster/identity.ts): a wiped disk is a new one. */
  readonly storageId: string;
  /** The member's Raft peer id, derived from (node id, storage id); unique in the table. */
  readonly raftId: number;
  /** HOST:PORT of its gRPC services. */
  readonly grpcAddress: string;
  /** HOST:PORT of its gossip (UDP) socket. */
  readonly gossipAddress: string;
}

/** Where a memory space lives. */
export interface MetaSpace {
  /** Space id, as `SPACE_ID_PATTERN` (src/engine/limits.ts). */
  readonly id: string;
  /** Embedding dimension, 1..MAX_DIMENSION; never changes once created. */
  readonly dimension: number;
  /** Node ids holding a copy, distinct, the intended primary first. */
  readonly copies: readonly string[];
  /** The copy last known to lead the space's group; always one of `copies`. A hint, not a fact. */
  readonly leaderHint: string;
}

/** The whole committed state, as `MetaState.view()` and a snapshot hold it (canonical order). */
export interface MetaStateView {
  /** UUID made at bootstrap; null until the bootstrap command is applied. */
  readonly clusterId: string | null;
  /** Sorted by node id. */
  readonly members: readonly MetaMember[];
  /** Sorted by space id. */
  readonly spaces: readonly MetaSpace[];
  /** Raft ids of the metadata group's voters as the last applied configuration has them, ascending. */
  readonly voters: readonly number[];
  /** Raft ids of its learners, ascending. */
  readonly learners: readonly number[];
}

interface CommandBase {
  /**
   * Chosen by the proposer (1–128 characters), handed back in the result, so a proposer can tell
   * its own pending request when the entry comes back applied. Not deduplicated: every command
   * is safe to apply twice (creates answer `exists`, sets are idempotent).
   */
  readonly requestId: string;
}

/** Makes a new cluster: only the first such command applies; the same cluster id again is `exists`. */
export interface BootstrapCommand extends CommandBase {
  readonly kind: 'bootstrap';
  readonly clusterId: string;
  readonly member: MetaMember;
}

/**
 * Adds a member, or updates one (same node id): new addresses, or a new storage id and raft id
 * after its disk was wiped (the old raft id stays in the group's configuration until replaced).
 */
export interface JoinMemberCommand extends CommandBase {
  readonly kind: 'joinMember';
  readonly member: MetaMember;
}

/** Removes a member; its copies stay listed until allocation moves them (`setCopies`). */
export interface RemoveMemberCommand extends CommandBase {
  readonly kind: 'removeMember';
  readonly nodeId: string;
}

/**
 * Compare-and-set creation. `copies` is the placement the proposer computed; it is checked
 * against the members known when the command is applied, not when it was proposed.
 */
export interface CreateSpaceCommand extends CommandBase {
  readonly kind: 'createSpace';
  readonly space: string;
  readonly dimension: number;
  readonly copies: readonly string[];
}

/** Moves a space's copies (allocation), if they are still `expected`; newly added nodes must be members. */
export interface SetCopiesCommand extends CommandBase {
  readonly kind: 'setCopies';
  readonly space: string;
  readonly expected: readonly string[];
  readonly copies: readonly string[];
}

/** Records which copy leads the space's group now. */
export interface SetLeaderHintCommand extends CommandBase {
  readonly kind: 'setLeaderHint';
  readonly space: string;
  readonly leader: string;
}

/**
 * The metadata group's configuration after a committed conf change. Never proposed: each node
 * makes it from the committed conf change entry it applies (entry.confState), so every node
 * records the same configuration at the same log position.
 */
export interface MetaConfigCommand extends CommandBase {
  readonly kind: 'metaConfig';
  readonly voters: readonly number[];
  readonly learners: readonly number[];
}

export type MetaCommand =
  | BootstrapCommand
  | JoinMemberCommand
  | RemoveMemberCommand
  | CreateSpaceCommand
  | SetCopiesCommand
  | SetLeaderHintCommand
  | MetaConfigCommand;

export type MetaCommandKind = MetaCommand['kind'];

/** The command did what it asked (`changed` false: the state already was so). */
export interface MetaOk {
  readonly status: 'ok';
  readonly requestId: string;
  readonly kind: MetaCommandKind;
  readonly changed: boolean;
  /** The space as it is now (createSpace, setCopies, setLeaderHint). */
  readonly space?: MetaSpace;
  /** The member as it is now (bootstrap, joinMember) or as it was (removeMember). */
  readonly member?: MetaMember;
  /** removeMember: spaces that still list the removed node as a copy, sorted. */
  readonly heldCopiesOf?: readonly string[];
}

/** A create found what it asked for already there: `createSpace` with the same dimension, `bootstrap` with the same cluster id. */
export interface MetaExists {
  readonly status: 'exists';
  readonly requestId: string;
  readonly kind: 'createSpace' | 'bootstrap';
  readonly space?: MetaSpace;
  readonly clusterId?: string;
}

/** `createSpace` of an existing space with another dimension: nothing changed. */
export interface MetaDimensionConflict {
  readonly status: 'conflict';
  readonly requestId: string;
  readonly kind: 'createSpace';
  /** The space as it exists. */
  readonly space: MetaSpace;
  readonly existingDimension: number;
  readonly requestedDimension: number;
}

/** Why a command changed nothing. */
export type MetaRejectReason =
  /** Only `bootstrap` and `metaConfig` apply before the cluster exists. */
  | 'notBootstrapped'
  /** `bootstrap` of a cluster that already has another id. */
  | 'otherCluster'
  /** `joinMember` with a raft id another node holds. */
  | 'raftIdInUse'
  /** `createSpace` / `setCopies` naming nodes that are not members now (a stale proposer): `nodes`. */
  | 'unknownMembers'
  /** `setCopies` / `setLeaderHint` of a space that does not exist. */
  | 'noSuchSpace'
  /** `setCopies` whose `expected` is not the current copy set: `space` holds the current one. */
  | 'copiesChanged'
  /** `setLeaderHint` naming a node that holds no copy. */
  | 'notACopy';

export interface MetaRejected {
  readonly status: 'rejected';
  readonly requestId: string;
  readonly kind: MetaCommandKind;
  readonly reason: MetaRejectReason;
  /** One line for logs and for the error a proposer turns this into. */
  readonly message: string;
  /** unknownMembers: the node ids that are not members, in the order given. */
  readonly nodes?: readonly string[];
  /** copiesChanged, notACopy: the space as it is. */
  readonly space?: MetaSpace;
}

export type MetaResult = MetaOk | MetaExists | MetaDimensionConflict | MetaRejected;

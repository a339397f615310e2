/**
 * Shape of the addon's `RaftGroups` class (native/binding/src/raft.rs). `test/native-types.test.ts`
 * checks at compile time that the generated declarations are assignable to `NativeBinding`,
 * which includes this. Ids, terms and indexes are safe integers; bytes come out as Buffers.
 */

/** Per-group timing and flow control; every field optional. An explicit 0 is refused, not defaulted. */
export interface RaftGroupOptions {
  /** Ticks without a leader before a follower campaigns (randomized in [n, 2n)). Default 10; > heartbeatTicks. */
  electionTicks?: number;
  /** Ticks between a leader's heartbeats. Default 2. */
  heartbeatTicks?: number;
  /** Largest append message, bytes (one entry always goes). Default 1 MiB. */
  maxSizePerMsgBytes?: number;
  /** Appends in flight to one follower. Default 256. */
  maxInflightMsgs?: number;
  /** A leader without a majority for an election timeout steps down. Default true. */
  checkQuorum?: boolean;
  /** A node back from a cut does not depose a healthy leader. Default true. */
  preVote?: boolean;
}

export interface RaftHardState {
  term: number;
  vote: number;
  commit: number;
}

/** A configuration; `votersOutgoing` is non-empty only while a joint change is in progress. */
export interface RaftConfState {
  voters: number[];
  learners: number[];
  votersOutgoing: number[];
  learnersNext: number[];
  autoLeave: boolean;
}

/** An entry to persist: `data` is the encoded raft entry, handed back as is at restore. */
export interface RaftPersistEntry {
  index: number;
  term: number;
  data: Uint8Array;
}

/** A snapshot to persist (`metadata` is the encoded raft SnapshotMetadata) and apply (`data`). */
export interface RaftSnapshot {
  index: number;
  term: number;
  confState: RaftConfState;
  metadata: Uint8Array;
  data: Uint8Array;
}

/** What a bootstrapping node persists before handling any Ready of the new group. */
export interface RaftBootstrap {
  entries: RaftPersistEntry[];
  hardState: RaftHardState;
}

export type RaftConfChangeKind = 'addVoter' | 'addLearner' | 'remove';

/** `addVoter` also promotes a learner. `kind` is typed as string by the generator. */
export interface RaftConfChange {
  kind: string;
  node: number;
}

/** A committed entry, in log order; an empty `data` (a new leader's no-op) still takes its index. */
export interface RaftCommittedEntry {
  index: number;
  term: number;
  /** A membership change; already applied to the group when handed out. */
  confChange: boolean;
  data: Uint8Array;
  context: Uint8Array;
  changes: RaftConfChange[];
  /** Configuration after a conf change; absent when raft refused it (every member refuses alike). */
  confState?: RaftConfState;
  confChangeError?: string;
}

export interface RaftOutMessage {
  /** Raft id of the peer to hand `data` to (its `step`). */
  to: number;
  data: Uint8Array;
  /** A snapshot: report its outcome with `reportSnapshot` (the leader holds the peer until told). */
  snapshot: boolean;
}

export type RaftRole = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface RaftSoftState {
  /** 0 when unknown. */
  leaderId: number;
  /** A `RaftRole` (typed as string by the generator). */
  role: string;
  term: number;
}

/** Reads for `context` are linearizable once `index` is applied. */
export interface RaftReadState {
  index: number;
  context: Uint8Array;
}

/** One Ready; see `handleReady` (raft-host.ts) for the order it must be handled in. */
export interface RaftReady {
  number: number;
  messages: RaftOutMessage[];
  entries: RaftPersistEntry[];
  hardState?: RaftHardState;
  snapshot?: RaftSnapshot;
  committed: RaftCommittedEntry[];
  softState?: RaftSoftState;
  readStates: RaftReadState[];
  mustSync: boolean;
}

/** A group's persisted state as read back from disk. */
export interface RaftRestoreState {
  hardState: RaftHardState;
  snapshot?: { metadata: Uint8Array; data: Uint8Array };
  /** Encoded entries after the snapshot, in order. */
  entries: Uint8Array[];
}

export interface RaftStatus {
  id: number;
  term: number;
  vote: number;
  commit: number;
  applied: number;
  leaderId: number;
  role: string;
  firstIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  confState: RaftConfState;
  /** On the leader: each peer's highest replicated index, by id. Empty elsewhere. */
  progress: { id: number; matched: number }[];
}

/**
 * Many raft-rs groups, I/O-free. Throws Errors whose `code` is one of `RAFT_CODES`
 * (src/raft/raft-errors.ts).
 */
export interface NativeRaftGroups {
  create(group: string, id: number, voters: number[], learners: number[], options?: RaftGroupOptions | null): RaftBootstrap | null;
  restore(group: string, id: number, state: RaftRestoreState, options?: RaftGroupOptions | null): void;
  remove(group: string): boolean;
  has(group: string): boolean;
  groups(): string[];
  tick(): string[];
  tickGroup(group: string): void;
  readyGroups(): string[];
  propose(group: string, data: Uint8Array, context?: Uint8Array | null): void;
  proposeConfChange(group: string, changes: RaftConfChange[], context?: Uint8Array | null): void;
  step(group: string, message: Uint8Array): void;
  campaign(group: string): void;
  transferLeader(group: string, to: number): void;
  readIndex(group: string, context: Uint8Array): void;
  reportUnreachable(group: string, peer: number): void;
  reportSnapshot(group: string, peer: number, delivered: boolean): void;
  takeReady(group: string): RaftReady | null;
  advance(group: string, number: number): void;
  compact(group: string, index: number, data: Uint8Array): RaftSnapshot;
  status(group: string): RaftStatus;
}

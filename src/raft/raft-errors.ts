/**
 * Errors of the Raft host. The addon throws plain Errors with a stable `code`; `raftCall` turns
 * them into `RaftError`s carrying that code and the group. (Not yet in src/errors.ts's wire
 * table: nothing sends these to a remote caller until the metadata group is wired, issue 11.)
 */
import { EngramError } from '../errors.js';

/** Codes the addon uses, each meaning one thing a caller may want to tell apart. */
export const RAFT_CODES = {
  /** An argument out of range (id 0, a bad option, an unknown conf change kind). */
  INVALID: 'ERR_RAFT_INVALID',
  /** Bytes that should be a raft message, entry or snapshot metadata do not decode. */
  DECODE: 'ERR_RAFT_DECODE',
  GROUP_EXISTS: 'ERR_RAFT_GROUP_EXISTS',
  NO_GROUP: 'ERR_RAFT_NO_GROUP',
  /** No known leader, a transfer in progress, or a conf change pending: nothing was appended; retry. */
  PROPOSAL_DROPPED: 'ERR_RAFT_PROPOSAL_DROPPED',
  /** A message refused: for another node, a local-only type, or from a removed peer. Harmless. */
  STEP: 'ERR_RAFT_STEP',
  /** Restored state is inconsistent (a gap in the log, commit past the last entry). */
  STORAGE: 'ERR_RAFT_STORAGE',
  COMPACT: 'ERR_RAFT_COMPACT',
  READY: 'ERR_RAFT_READY',
  /** raft-rs panicked in this group: it is fenced off; remove it and restore it from disk. */
  GROUP_FAILED: 'ERR_RAFT_GROUP_FAILED',
} as const;

export type RaftCode = (typeof RAFT_CODES)[keyof typeof RAFT_CODES];

const KNOWN = new Set<string>(Object.values(RAFT_CODES));

/** A refused Raft operation; `code` is one of `RAFT_CODES`, `group` the group it was about. */
export class RaftError extends EngramError {
  static override readonly code: string = 'ERR_RAFT';
  readonly group: string;
  constructor(code: RaftCode, group: string, message: string, cause?: unknown) {
    super(code, message, { cause });
    this.group = group;
  }
}

/** Runs a call into the addon, rethrowing its coded Errors as RaftError. */
export function raftCall<T>(group: string, call: () => T): T {
  try {
    return call();
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && KNOWN.has(code)) throw new RaftError(code as RaftCode, group, (e as Error).message, e);
    throw e;
  }
}

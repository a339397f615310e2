/**
 * Errors of decoding metadata commands and snapshots. They stay on the node (a command or a
 * snapshot that does not decode is a fault of whoever wrote it, never of a client's request),
 * so they are not in src/errors.ts's wire table: a client never sees one.
 */
import { EngramError } from '../../errors.js';

/** What was being decoded. */
export type MetaDecodeTarget = 'command' | 'snapshot';

/** Bytes that are not a valid metadata command or snapshot of a version this node knows. */
export class MetaDecodeError extends EngramError {
  static override readonly code: string = 'ERR_META_DECODE';
  readonly target: MetaDecodeTarget;
  /** Path of the bad field (`member.raftId`), or '' for the bytes as a whole. */
  readonly field: string;
  constructor(target: MetaDecodeTarget, field: string, reason: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? MetaDecodeError.code, `metadata ${target}${field ? ` ${field}` : ''}: ${reason}`, { cause: options?.cause });
    this.target = target;
    this.field = field;
  }
}

/**
 * Well-formed header of a format version this node does not know: written by a newer node. A
 * committed entry like this must stop this node's metadata group (skipping it would make this
 * node's table differ from the others'); the fix is upgrading the node.
 */
export class MetaVersionError extends MetaDecodeError {
  static override readonly code: string = 'ERR_META_VERSION';
  /** The version found. */
  readonly version: number;
  constructor(target: MetaDecodeTarget, version: number, known: number) {
    super(target, '', `format version ${version} is newer than this node's (${known}): upgrade the node`, { code: MetaVersionError.code });
    this.version = version;
  }
}

/** Errors of log-shipping replication (see `Engine.applyReplicated`). */
import { EngramError } from '../errors.js';

/**
 * The replica already holds a record at this position and its bytes differ from the ones
 * shipped: the two copies' histories diverged, so applying anything more would be guessing.
 */
export class ReplicaDivergedError extends EngramError {
  readonly space: string;
  readonly position: number;
  constructor(space: string, position: number) {
    super('ERR_REPLICA_DIVERGED', `memory space "${space}": the record at log position ${position} differs from the one shipped`);
    this.space = space;
    this.position = position;
  }
}

/** A record was shipped past the replica's log end: the caller must first send `expected..got - 1`. */
export class ReplicationGapError extends EngramError {
  readonly space: string;
  /** The next position the replica can take (its last position + 1). */
  readonly expected: number;
  /** The position that was shipped. */
  readonly got: number;
  constructor(space: string, expected: number, got: number) {
    super('ERR_REPLICATION_GAP', `memory space "${space}": expected log position ${expected}, got ${got}`);
    this.space = space;
    this.expected = expected;
    this.got = got;
  }
}

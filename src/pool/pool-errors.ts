/**
 * Errors of the connection pool. They extend EngramError (stable `code`, `name`, `cause`) and live
 * here rather than in src/errors.ts because only the pool throws them.
 */
import { EngramError } from '../errors.js';

/**
 * The address failed at the transport level a moment ago and is waiting out its backoff, so the
 * call was refused without touching the network. Retryable: the scatter should move on to the
 * partition's next copy at once.
 */
export class ConnectionBackoffError extends EngramError {
  /** Always true: another copy, or this address after `retryInMs`, may answer. */
  readonly retryable = true;
  readonly address: string;
  /** ms until the address is dialled again. */
  readonly retryInMs: number;
  constructor(address: string, retryInMs: number, cause?: unknown) {
    super('ERR_CONNECTION_BACKOFF', `${address}: connection failed recently; next dial in ${Math.ceil(retryInMs)} ms`, { cause });
    this.address = address;
    this.retryInMs = retryInMs;
  }
}

/** The pool was closed; it makes no more calls. */
export class PoolClosedError extends EngramError {
  constructor() {
    super('ERR_POOL_CLOSED', 'the connection pool is closed');
  }
}

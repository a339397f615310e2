/**
 * The history of a run, Jepsen style: every operation is an `invoke` event followed by exactly one
 * completion — `ok`, `fail` (definitely had no effect) or `unknown` (may or may not have taken
 * effect) — with monotonic times, the client process that ran it and the node it went through.
 * The checker (checker.ts) judges the run from this record and the copies read after the heal,
 * never from what the load generator believed at the time.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import {
  EngramError, InvalidArgumentError, NodeStartingError, NodeUnavailableError, NotSpaceLeaderError, ReplicationTimeoutError,
  SpaceNotFoundError, WriteUnavailableError,
} from '../../src/errors.js';

export type OpKind = 'write' | 'read' | 'spread';

/** What a Spread over several spaces answered (spread completions). */
export interface SpreadSeen {
  full: boolean;
  penalty: number;
  partitioned: boolean;
  expected: number;
  /** Spaces that answered (status ok). */
  answered: string[];
  /** SPACE/ID → activation, as answered. */
  rows: [string, number][];
}
export type Completion = 'ok' | 'fail' | 'unknown';

export interface HistoryEvent {
  /** Operation number: the invoke and its completion share it. */
  op: number;
  type: 'invoke' | Completion;
  f: OpKind;
  /** Client process (writer `w0`…, reader `r0`…). */
  process: string;
  /** Node the call went to. */
  node: string;
  space: string;
  /** ms since the run started (performance clock). */
  time: number;
  /** write: the ids sent; read: the id looked for. */
  ids: string[];
  /** write: `quorum` / `all`; read: `any` / `leader`. */
  mode: string;
  /** read completions: ids the answer held. */
  found?: string[];
  /** read completions: the node whose copy answered. */
  answeredBy?: string;
  /** `STATUS/code` of an error completion (also set on an ok from ERR_REPLICATION_TIMEOUT). */
  error?: string;
  /** spread completions: the answer. */
  spread?: SpreadSeen;
}

/** One operation: its invoke and its completion. */
export interface Operation { invoke: HistoryEvent; done: HistoryEvent }

export function errorName(err: unknown): string {
  if (err instanceof EngramError) return `${grpcStatus[err.grpcStatus]}/${err.code}`;
  return `LOCAL/${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? String(err)}`;
}

/** A connection that was never made: the request cannot have reached a node. */
function neverConnected(err: NodeUnavailableError): boolean {
  const cause = String((err.cause as Error | undefined)?.message ?? '');
  return /No connection established|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|failed to connect/i.test(cause);
}

/**
 * What a failed write tells about its effect. `ok` only for ERR_REPLICATION_TIMEOUT (`ack: all`:
 * committed, not yet applied everywhere). `fail` only where the node (or the client, before
 * sending) vouches that nothing was proposed. Everything else — a deadline, a proposal whose
 * fate is unknown, a connection dropped mid-call — may have been written: `unknown`.
 */
export function classifyWriteError(err: unknown): Completion {
  if (err instanceof ReplicationTimeoutError) return 'ok';
  if (err instanceof WriteUnavailableError || err instanceof NotSpaceLeaderError || err instanceof InvalidArgumentError) return 'fail';
  if (err instanceof SpaceNotFoundError || err instanceof NodeStartingError) return 'fail';
  if (err instanceof NodeUnavailableError) return neverConnected(err) ? 'fail' : 'unknown';
  if (err instanceof EngramError && err.grpcStatus === grpcStatus.INVALID_ARGUMENT) return 'fail';
  return 'unknown';
}

export class History {
  readonly events: HistoryEvent[] = [];
  #next = 0;

  constructor(readonly now: () => number) {}

  invoke(e: Omit<HistoryEvent, 'op' | 'type' | 'time'>): HistoryEvent {
    const ev: HistoryEvent = { ...e, op: this.#next++, type: 'invoke', time: this.now() };
    this.events.push(ev);
    return ev;
  }

  complete(invoke: HistoryEvent, type: Completion, extra: Partial<Pick<HistoryEvent, 'found' | 'answeredBy' | 'error' | 'spread'>> = {}): HistoryEvent {
    const ev: HistoryEvent = { ...invoke, type, time: this.now(), ...extra };
    this.events.push(ev);
    return ev;
  }

  /** Every completed operation, in invoke order (an invoke without completion is left out). */
  operations(): Operation[] {
    const invokes = new Map<number, HistoryEvent>();
    const out: Operation[] = [];
    for (const e of this.events) {
      if (e.type === 'invoke') invokes.set(e.op, e);
      else {
        const invoke = invokes.get(e.op);
        if (invoke) out.push({ invoke, done: e });
      }
    }
    return out.sort((a, b) => a.invoke.op - b.invoke.op);
  }
}

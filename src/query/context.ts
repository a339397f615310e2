/**
 * What one query carries down every layer (DESIGN §8): execute → plan → scatter → gather → pool
 * all read the same deadline and the same cancellation, built once at the server edge.
 */
import type { Context } from '@opentelemetry/api';
import type { Deadline } from './deadline.js';
import type { ExecutionStrategy } from './planner.js';

/** What a caller brings to one query; every field is optional. */
export interface ExecuteContext {
  /**
   * The caller's own deadline (a gRPC call's, converted at the edge). The query ends at this or
   * at its `timeoutMs`, whichever is first.
   */
  deadline?: Deadline;
  /** Fires when the caller gives up (its call was cancelled): every partition call is cancelled. */
  signal?: AbortSignal;
  /** Override the planner's strategy (`broadcast` asks every space). */
  strategy?: ExecutionStrategy;
  /** The OpenTelemetry context the query's span is a child of (the public edge extracts the caller's). Default: the active one. */
  trace?: Context;
}

/** The context as the scatter sees it: always a deadline, always a signal. */
export interface QueryContext {
  readonly deadline: Deadline;
  readonly signal: AbortSignal;
}

/** A signal that never fires, for queries whose caller cannot cancel. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/**
 * The server edge of a query (DESIGN §8): the gRPC call's deadline, a wall-clock instant, becomes
 * a monotonic Deadline, and the call's cancellation an AbortSignal. Everything below reads these.
 */
import type * as grpc from '@grpc/grpc-js';
import { answerMarginMs, Deadline } from '../query/deadline.js';
import type { ExecuteContext } from '../query/context.js';

/** The call's deadline as ms since the epoch, or undefined when the caller set none. */
export function callDeadlineEpochMs(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const d = call.getDeadline();
  const at = d instanceof Date ? d.getTime() : typeof d === 'number' ? d : undefined;
  return at !== undefined && Number.isFinite(at) ? at : undefined;
}

/**
 * The query context of a call; `dispose()` once the call is answered. The deadline is the
 * caller's less a margin for the answer to travel back (answerMarginMs), so a partial answer or
 * a typed error reaches the caller instead of its own bare DEADLINE_EXCEEDED.
 */
export function callContext(call: grpc.ServerUnaryCall<unknown, unknown>): { context: ExecuteContext; dispose(): void } {
  const controller = new AbortController();
  const onCancel = () => controller.abort(new Error('the caller cancelled the call'));
  if (call.cancelled) onCancel();
  else call.on('cancelled', onCancel);
  const at = callDeadlineEpochMs(call);
  let deadline: Deadline | undefined;
  if (at !== undefined) {
    const budget = Math.max(0, at - Date.now());
    deadline = new Deadline(Math.max(0, budget - answerMarginMs(budget)));
  }
  return {
    context: { signal: controller.signal, ...(deadline ? { deadline } : {}) },
    dispose: () => call.off('cancelled', onCancel),
  };
}

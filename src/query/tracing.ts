/**
 * OpenTelemetry spans of the query path, through `@opentelemetry/api` only: without an SDK
 * registered every call here is the API's no-op, and the query path skips its per-partition
 * span work altogether (it keys on `traceContext`, undefined then).
 *
 * Span tree of one query (DESIGN §9):
 *   engram.query                      the coordinator, one per query
 *     engram.plan
 *     engram.partition                one per call to a copy (a hedge is a second one)
 *       engram.partition.execute      on the serving node, parented through `traceparent`
 *     engram.gather
 *
 * The context travels node to node as W3C `traceparent` / `tracestate` metadata on ExecuteLocal,
 * injected through the globally registered propagator. Those headers are outside the
 * cluster-key tag (src/security/internal-auth.ts signs the node, cluster, method, time, nonce
 * and the request's bytes): adding them changes no verification, and a forged one can only
 * misfile a span, never get a call accepted.
 */
import { context as otelContext, INVALID_SPAN_CONTEXT, isSpanContextValid, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter } from '@opentelemetry/api';
import type * as grpc from '@grpc/grpc-js';
import { VERSION } from '../util/version.js';

/** The tracer of this package (a proxy: it follows whichever provider is registered, now or later). */
export const tracer = trace.getTracer('engram-query', VERSION);

/** Span names. */
export const SPAN_QUERY = 'engram.query';
export const SPAN_PLAN = 'engram.plan';
export const SPAN_PARTITION = 'engram.partition';
export const SPAN_GATHER = 'engram.gather';
export const SPAN_EXECUTE = 'engram.partition.execute';

export { SpanKind, type Context, type Span };

/** The active OpenTelemetry context (the parent of a query started without an explicit one). */
export function activeContext(): Context {
  return otelContext.active();
}

/**
 * The context children of `span` start in, or undefined when the span carries no trace (no SDK
 * registered): callers skip their span work then. A span the sampler dropped still has a valid
 * context, so its decision travels on to the serving nodes.
 */
export function traceContext(span: Span, parent: Context): Context | undefined {
  const sc = span.spanContext();
  // The no-op tracer's parentless span has exactly this context: no need to validate its ids.
  return sc !== INVALID_SPAN_CONTEXT && isSpanContextValid(sc) ? trace.setSpan(parent, span) : undefined;
}

/** `parent` with `span` as its current span (the parent of the spans started in it). */
export function withSpan(parent: Context, span: Span): Context {
  return trace.setSpan(parent, span);
}

/** Marks `span` failed: status ERROR with the error's message, and the exception as an event. */
export function failSpan(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

/** The W3C trace headers of `ctx` (`traceparent`, maybe `tracestate`), or undefined when the propagator adds none. */
export function traceHeaders(ctx: Context): Record<string, string> | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  for (const _ in carrier) return carrier;
  return undefined;
}

/** Reads trace headers from a grpc-js Metadata (the propagator's carrier on the serving side). */
export const metadataGetter: TextMapGetter<grpc.Metadata> = {
  keys: (md) => Object.keys(md.getMap()),
  get: (md, key) => {
    const values = md.get(key);
    if (values.length === 0) return undefined;
    return values.length === 1 ? String(values[0]) : values.map(String);
  },
};

/** The context a call's metadata carries (its caller's span), on top of `base`. */
export function extractContext(metadata: grpc.Metadata, base: Context = ROOT_CONTEXT): Context {
  return propagation.extract(base, metadata, metadataGetter);
}

/**
 * A PartitionTransport that sends the first partition calls of one scatter to the same node as
 * one `ExecuteLocalBatch` call (after Elasticsearch's batched query phase). A Spread round over
 * ten spaces on four nodes is then four calls, not ten: each call costs both sides an HTTP/2
 * stream, a tag, a protobuf frame and a process wake-up, which on a loaded machine is most of a
 * round (measured: a node served its share of a round in 0.1-0.7 ms, the coordinator saw 5-13).
 *
 * Only calls that carry the same `batch` key travel together: the scatter gives one key to its
 * first calls (which share its deadline) when asked to (a Spread round); every other call, and
 * a call alone, goes as a plain `ExecuteLocal` at once. Keyed calls are gathered until the event
 * loop's next check phase (`setImmediate`): the scatter starts all its partitions in one turn.
 * Each call keeps its own cancellation: an aborted call is rejected at once and its answer
 * dropped, and the batch call itself is cancelled on the wire once every call in it was. The
 * receiving node answers, by the batch's deadline, whatever entries are done (the others fail
 * DEADLINE_EXCEEDED), so an entry stuck in one partition does not take the others down with it.
 * A node that does not know the batch method (UNIMPLEMENTED: an embedding node's partition
 * service, an older node) gets its calls one by one for a while.
 */
import * as grpc from '@grpc/grpc-js';
import { AbortError } from '../errors.js';
import type { PartitionTransport } from './remote-partition-client.js';

/** A unary call of the internal service (the connection pool's `unary`). */
export type InternalUnary = (address: string, method: 'ExecuteLocal' | 'ExecuteLocalBatch', request: unknown, options: { deadline: number; signal: AbortSignal; headers?: Readonly<Record<string, string>> }) => Promise<unknown>;

type CallOptions = Parameters<PartitionTransport['executeLocal']>[2];

/** How long a node that answered the batch method UNIMPLEMENTED gets its calls one by one, ms (it may be upgraded). */
export const UNBATCHED_NODE_MS = 60_000;

interface Waiting {
  request: unknown;
  options: CallOptions;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** An entry that failed inside a batch, as the status of a failed call would have said it. */
interface CallErrorMsg { code: number; details: string; engramCode?: string; fields?: Uint8Array }

/** The failed entry as a grpc-js ServiceError, so that callers classify it as a failed call. */
function serviceErrorOf(e: CallErrorMsg): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  if (e.engramCode) metadata.set('engram-code', e.engramCode);
  if (e.fields && e.fields.byteLength > 0) metadata.set('engram-fields-bin', Buffer.from(e.fields));
  return Object.assign(new Error(`${grpc.status[e.code] ?? e.code}: ${e.details}`), { code: e.code, details: e.details, metadata });
}

export function coalescingTransport(unary: InternalUnary, now: () => number = Date.now): PartitionTransport {
  /** Keyed calls waiting for the flush, by batch key and then node address. */
  const pending = new Map<object, Map<string, Waiting[]>>();
  /** Nodes that answered the batch method UNIMPLEMENTED, until when they get single calls. */
  const single = new Map<string, number>();
  let scheduled = false;

  const one = (address: string, w: Waiting) => unary(address, 'ExecuteLocal', w.request, w.options).then(w.resolve, w.reject);

  const flush = () => {
    scheduled = false;
    const batches = [...pending.values()].flatMap((byAddress) => [...byAddress]);
    pending.clear();
    for (const [address, waiting] of batches) {
      const live = waiting.filter((w) => !w.options.signal.aborted);
      for (const w of waiting) if (w.options.signal.aborted) w.reject(new AbortError('cancelled before it was sent'));
      if (live.length === 1) void one(address, live[0]!);
      else if (live.length > 1) send(address, live);
    }
  };

  const send = (address: string, waiting: Waiting[]) => {
    const controller = new AbortController();
    let open = waiting.length;
    const done = new Set<Waiting>();
    const finish = (w: Waiting) => {
      done.add(w);
      w.options.signal.removeEventListener('abort', listeners.get(w)!);
    };
    const listeners = new Map<Waiting, () => void>();
    for (const w of waiting) {
      const onAbort = () => {
        if (done.has(w)) return;
        finish(w);
        w.reject(new AbortError());
        // Nobody waits for any of it any more: the batch is cancelled on the wire.
        if (--open === 0) controller.abort();
      };
      listeners.set(w, onAbort);
      w.options.signal.addEventListener('abort', onAbort, { once: true });
    }
    const request = { entries: waiting.map((w) => ({ request: w.request, trace: w.options.headers ?? {} })) };
    const deadline = Math.max(...waiting.map((w) => w.options.deadline));
    unary(address, 'ExecuteLocalBatch', request, { deadline, signal: controller.signal }).then(
      (res) => {
        const results = (res as { results?: { outcome?: string; result?: unknown; error?: CallErrorMsg }[] }).results ?? [];
        waiting.forEach((w, i) => {
          if (done.has(w)) return;
          finish(w);
          const r = results[i];
          if (r?.outcome === 'result' && r.result) w.resolve(r.result);
          else if (r?.outcome === 'error' && r.error) w.reject(serviceErrorOf(r.error));
          else w.reject(serviceErrorOf({ code: grpc.status.INTERNAL, details: `the batch answer has no outcome for entry ${i} of ${waiting.length}` }));
        });
      },
      (err: unknown) => {
        const unimplemented = (err as { code?: unknown }).code === grpc.status.UNIMPLEMENTED;
        if (unimplemented) single.set(address, now() + UNBATCHED_NODE_MS);
        for (const w of waiting) {
          if (done.has(w)) continue;
          finish(w);
          if (unimplemented) void one(address, w);
          else w.reject(err);
        }
      },
    );
  };

  return {
    executeLocal(address, request, options) {
      const { batch, ...callOptions } = options;
      const until = single.get(address);
      if (until !== undefined && until <= now()) single.delete(address);
      if (batch === undefined || single.has(address)) return unary(address, 'ExecuteLocal', request, callOptions);
      return new Promise((resolve, reject) => {
        let byAddress = pending.get(batch);
        if (!byAddress) pending.set(batch, (byAddress = new Map()));
        let list = byAddress.get(address);
        if (!list) byAddress.set(address, (list = []));
        list.push({ request, options: callOptions, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}

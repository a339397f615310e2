/**
 * Which copy of a partition to ask first, by measurement (Elasticsearch's adaptive replica
 * selection, after C3, Suresh et al., NSDI '15). Per node this coordinator keeps EWMAs of the
 * response time it saw (R), of the service time and queue size the node reported in its answers
 * (S, q), and counts its own calls outstanding there (os). A copy's rank is
 *
 *     Ψ = (R − S) + q̂³ · S,   q̂ = 1 + os + q
 *
 * (lower is better): the network and queueing it adds, plus its own work inflated by the cube of
 * its queue, so a copy that starts to queue falls behind quickly. Hand-written because it is a
 * few lines of arithmetic over our own answers; there is no library for it to wrap.
 */
import type { PlannedCopy } from './planner.js';

/** Weight of a new sample in each EWMA (Elasticsearch uses 0.3). */
export const RANKING_ALPHA = 0.3;
/**
 * How far a copy ranked behind the chosen one drifts toward the chosen one's figures each time,
 * so a copy that was slow once is tried again after a while instead of never.
 */
export const RANKING_DECAY = 0.05;

/** How many times worse than the best other copy this node's own copy may rank and still go first. */
export const LOCAL_PREFERENCE = 2;

interface PeerStats {
  /** Response time seen here, ms. */
  r: number;
  /** Service time the node reported, ms. */
  s: number;
  /** Queue size the node reported. */
  q: number;
  /** Calls of ours in flight to it. */
  outstanding: number;
  /** Whether r, s, q hold a sample yet. */
  measured: boolean;
}

export class CopyRanker {
  readonly #peers = new Map<string, PeerStats>();

  #stats(node: string): PeerStats {
    let s = this.#peers.get(node);
    if (!s) {
      s = { r: 0, s: 0, q: 0, outstanding: 0, measured: false };
      this.#peers.set(node, s);
    }
    return s;
  }

  /** A call to `node` starts; the returned function ends it, with its outcome when it answered. */
  begin(node: string): (answered?: { responseMs: number; serviceMs?: number; queue?: number }) => void {
    const st = this.#stats(node);
    st.outstanding++;
    let ended = false;
    return (answered) => {
      if (ended) return;
      ended = true;
      st.outstanding--;
      if (!answered) return;
      const service = Math.min(answered.serviceMs ?? answered.responseMs, answered.responseMs);
      const queue = answered.queue ?? 0;
      if (!st.measured) {
        Object.assign(st, { r: answered.responseMs, s: service, q: queue, measured: true });
        return;
      }
      st.r += RANKING_ALPHA * (answered.responseMs - st.r);
      st.s += RANKING_ALPHA * (service - st.s);
      st.q += RANKING_ALPHA * (queue - st.q);
    };
  }

  /**
   * A call to `node` failed or was cancelled after `elapsedMs`: it counts as an answer that slow
   * (a copy that times out must not keep its good rank).
   */
  penalise(node: string, elapsedMs: number): void {
    const st = this.#stats(node);
    if (!st.measured) Object.assign(st, { r: elapsedMs, s: 0, q: 0, measured: true });
    else st.r += RANKING_ALPHA * (Math.max(elapsedMs, st.r) - st.r);
  }

  /** Ψ of `node`; undefined before its first answer. */
  rank(node: string): number | undefined {
    const st = this.#peers.get(node);
    if (!st?.measured) return undefined;
    const qhat = 1 + st.outstanding + st.q;
    return Math.max(0, st.r - st.s) + qhat ** 3 * st.s;
  }

  /**
   * `copies` best first. This node's own copy (`local`) stays first unless a measured copy
   * ranks better by more than LOCAL_PREFERENCE (it costs no network hop, and an overloaded node's
   * queue term grows fast). Among the others a copy not measured yet comes first (it gets
   * measured), the order of the plan breaking ties. The copies ranked behind the first drift
   * toward its figures (RANKING_DECAY).
   */
  order<C extends Pick<PlannedCopy, 'node' | 'local'>>(copies: readonly C[]): C[] {
    if (copies.length < 2) return [...copies];
    const keyed = copies.map((c, i) => ({ c, i, rank: this.rank(c.node) ?? -1 }));
    keyed.sort((a, b) => a.rank - b.rank || a.i - b.i);
    const local = keyed.findIndex((k) => k.c.local);
    if (local > 0) {
      const own = keyed[local]!;
      const bestMeasured = keyed.find((k) => !k.c.local && k.rank >= 0);
      if (own.rank < 0 || bestMeasured === undefined || own.rank <= bestMeasured.rank * LOCAL_PREFERENCE) {
        keyed.splice(local, 1);
        keyed.unshift(own);
      }
    }
    const best = this.#peers.get(keyed[0]!.c.node);
    if (best?.measured) {
      for (const k of keyed.slice(1)) {
        const st = this.#peers.get(k.c.node);
        if (!st?.measured) continue;
        // Toward a little under the best, so that it does overtake it and gets measured again.
        st.r += RANKING_DECAY * (0.9 * best.r - st.r);
        st.s += RANKING_DECAY * (0.9 * best.s - st.s);
        st.q += RANKING_DECAY * (0.9 * best.q - st.q);
      }
    }
    return keyed.map((k) => k.c);
  }

  /** The figures behind each node's rank (status, tests, benches). */
  snapshot(): Record<string, { responseMs: number; serviceMs: number; queue: number; outstanding: number; rank: number | undefined }> {
    const out: ReturnType<CopyRanker['snapshot']> = {};
    for (const [node, st] of this.#peers) out[node] = { responseMs: st.r, serviceMs: st.s, queue: st.q, outstanding: st.outstanding, rank: this.rank(node) };
    return out;
  }
}

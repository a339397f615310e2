/**
 * Hedged requests (Dean & Barroso, "The Tail at Scale"): when a partition's copy has not answered
 * after a high quantile (p97.5 by default, see defaultHedgeQuantile) of the recent latency of that
 * kind of query, the same request goes to the next
 * copy, and the first answer wins. A budget caps the extra load: every first call earns `budget`
 * of a hedge, a hedge spends one (a token bucket, like gRPC's retry throttling), so at most that
 * share of calls are extra whatever the fault.
 */
import { InvalidArgumentError } from '../errors.js';
import type { PartitionQueryKind } from './types.js';

/** Extra calls hedging may add, as a share of first calls. */
export const DEFAULT_HEDGE_BUDGET = 0.05;
/** The shortest wait before a hedge, ms: below it the second call is mostly waste. */
export const DEFAULT_HEDGE_MIN_DELAY_MS = 1;
/** The longest wait before a hedge, ms: a slow history must not switch hedging off. */
export const DEFAULT_HEDGE_MAX_DELAY_MS = 250;
/**
 * Which latency quantile of recent answers a copy may take before it is hedged, by default:
 * 1 − budget / 2 (p97.5 for the 5% budget). By definition that share of healthy answers is
 * slower than the quantile, so hedging at p95 with a 5% budget spends the whole budget on
 * ordinary variance and leaves none for a copy that really went slow (measured:
 * bench/slow-copy.ts); at 1 − budget / 2 variance takes half and a slow copy gets the rest.
 */
export function defaultHedgeQuantile(budget: number): number {
  return Math.min(0.999, Math.max(0.5, 1 - budget / 2));
}
/** The default quantile at the default budget (p97.5). */
export const DEFAULT_HEDGE_QUANTILE = defaultHedgeQuantile(0.05);
/** Answers of a kind seen before its delay is trusted (no hedge before). */
export const HEDGE_MIN_SAMPLES = 20;
/** Recent answers per kind the quantile is taken over. */
export const HEDGE_WINDOW = 512;
/**
 * Hedges that can be saved up: one, so over any run of N first calls at most budget × N + 1
 * hedges go out, and a burst after a quiet spell is capped too.
 */
export const HEDGE_MAX_TOKENS = 1;

export interface HedgeOptions {
  /** Default true. */
  enabled?: boolean;
  /** Extra calls as a share of first calls, 0..1. Default DEFAULT_HEDGE_BUDGET (5%). */
  budget?: number;
  /** Default DEFAULT_HEDGE_MIN_DELAY_MS. */
  minDelayMs?: number;
  /** Default DEFAULT_HEDGE_MAX_DELAY_MS. */
  maxDelayMs?: number;
  /** Default defaultHedgeQuantile(budget): 0.975 at the default budget. */
  quantile?: number;
}

export type HedgePolicy = Required<HedgeOptions>;

/** Validates the options once; an explicit 0 budget means no hedges at all. */
export function parseHedgeOptions(options: HedgeOptions = {}): HedgePolicy {
  const p: HedgePolicy = {
    enabled: options.enabled ?? true,
    budget: options.budget ?? DEFAULT_HEDGE_BUDGET,
    minDelayMs: options.minDelayMs ?? DEFAULT_HEDGE_MIN_DELAY_MS,
    maxDelayMs: options.maxDelayMs ?? DEFAULT_HEDGE_MAX_DELAY_MS,
    quantile: options.quantile ?? defaultHedgeQuantile(options.budget ?? DEFAULT_HEDGE_BUDGET),
  };
  if (typeof p.enabled !== 'boolean') throw new InvalidArgumentError('hedging.enabled', p.enabled, 'must be a boolean');
  if (!(p.budget >= 0 && p.budget <= 1)) throw new InvalidArgumentError('hedging.budget', p.budget, 'must be in 0..1');
  if (!(p.minDelayMs >= 0)) throw new InvalidArgumentError('hedging.minDelayMs', p.minDelayMs, 'must be ≥ 0');
  if (!(p.maxDelayMs >= p.minDelayMs)) throw new InvalidArgumentError('hedging.maxDelayMs', p.maxDelayMs, 'must be ≥ minDelayMs');
  if (!(p.quantile > 0 && p.quantile < 1)) throw new InvalidArgumentError('hedging.quantile', p.quantile, 'must be in (0, 1)');
  return p;
}

/** The pair of the parser: the policy as one line, for logs and bench output. */
export function formatHedgePolicy(p: HedgePolicy): string {
  return p.enabled && p.budget > 0 ? `hedge after p${Math.round(p.quantile * 1000) / 10} in [${p.minDelayMs}, ${p.maxDelayMs}] ms, budget ${p.budget * 100}%` : 'no hedging';
}

/** A window of recent latencies and its quantile. */
class LatencyWindow {
  readonly #values = new Float64Array(HEDGE_WINDOW);
  #count = 0;
  #next = 0;
  #sorted: Float64Array | undefined;

  add(ms: number): void {
    this.#values[this.#next] = ms;
    this.#next = (this.#next + 1) % HEDGE_WINDOW;
    this.#count = Math.min(this.#count + 1, HEDGE_WINDOW);
    this.#sorted = undefined;
  }

  get count(): number {
    return this.#count;
  }

  quantile(q: number): number {
    // Sorted lazily, once per batch of samples: most queries read it without adding one first.
    this.#sorted ??= this.#values.slice(0, this.#count).sort();
    return this.#sorted[Math.min(this.#count - 1, Math.floor(q * this.#count))]!;
  }
}

export class Hedger {
  readonly policy: HedgePolicy;
  readonly #windows = new Map<PartitionQueryKind, LatencyWindow>();
  #tokens = 0;

  constructor(options?: HedgeOptions) {
    this.policy = parseHedgeOptions(options);
  }

  /** An answering call of `kind` took `ms` (the answer's own call, hedged or not). */
  record(kind: PartitionQueryKind, ms: number): void {
    let w = this.#windows.get(kind);
    if (!w) this.#windows.set(kind, (w = new LatencyWindow()));
    w.add(ms);
  }

  /** A first call was sent: it earns its share of a hedge. */
  earn(): void {
    if (this.policy.enabled) this.#tokens = Math.min(HEDGE_MAX_TOKENS, this.#tokens + this.policy.budget);
  }

  /** How long a first call of `kind` may take before it is hedged; undefined: do not hedge. */
  delayMs(kind: PartitionQueryKind): number | undefined {
    if (!this.policy.enabled || this.policy.budget === 0 || kind === 'consolidate') return undefined;
    const w = this.#windows.get(kind);
    if (!w || w.count < HEDGE_MIN_SAMPLES) return undefined;
    return Math.min(this.policy.maxDelayMs, Math.max(this.policy.minDelayMs, w.quantile(this.policy.quantile)));
  }

  /** Spends one hedge from the budget; false when it is spent. */
  take(): boolean {
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

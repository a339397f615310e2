/**
 * The gather facade the executor calls: each merge runs on the addon or on the TS reference,
 * whichever is faster for the input's size, and large merges run off the JS thread.
 *
 * Thresholds come from `npm run bench:gather` (bench/gather.ts, results in
 * bench/results/gather.json) on the 2-core dev machine. Crossover: the smallest total row count
 * from which native p50 < TS p50 in every larger Spread and Recall cell below 10,000 rows (3-row
 * sweep cells up to the grid); runs measured 9-180 rows, the FFI call costing ~7 µs, so 200.
 * Async: the smallest total row count from which every grid cell's native merge takes >= 1 ms
 * (the pool hop measured ~0.013 ms), i.e. long enough that blocking the event loop costs more.
 * Penalty: same crossover rule over applyPenalty sizes (100: TS faster; 300: native 2x faster).
 */
import { AbortError, ConfigError, GatherInputError, NativeUnavailableError } from '../errors.js';
import { nativeBinding } from '../native/binding.js';
import type {
  GatherNative,
  ImagineMerged,
  ImaginePart,
  PartBase,
  PulseMerged,
  PulsePart,
  RecallMerged,
  RecallPart,
  SpreadMerged,
  SpreadPart,
} from './gather-types.js';
import { referenceMergeImagine } from './reference-imagine.js';
import { referenceApplyPenalty, referencePenalty, referencePickOne } from './reference-penalty.js';
import { referenceMergePulses } from './reference-pulses.js';
import { referenceMergeRecall } from './reference-recall.js';
import { referenceMergeSpread } from './reference-spread.js';

/** Total rows (all partitions) from which `auto` merges on the addon; below, TS is as fast. */
export const DEFAULT_NATIVE_MIN_ROWS = 200;
/** Total rows from which the async merges run on the libuv pool instead of the JS thread. */
export const DEFAULT_ASYNC_MIN_ROWS = 100_000;
/** Floats from which `applyPenalty` calls the addon; below, the TS loop is as fast. */
export const DEFAULT_NATIVE_PENALTY_MIN_VALUES = 300;

/** `native`: the addon; `ts`: the pure-TS reference. */
export type GatherBackend = 'native' | 'ts';

/** Options of every gather call. */
export interface GatherOptions {
  /** Backend: `auto` picks by size; default from ENGRAM_GATHER_BACKEND (`native`, `ts`, `auto`), else `auto`. */
  backend?: GatherBackend | 'auto';
  /** Total rows from which `auto` uses the addon (default DEFAULT_NATIVE_MIN_ROWS). */
  nativeMinRows?: number;
  /** Total rows from which async merges leave the JS thread (default DEFAULT_ASYNC_MIN_ROWS). */
  asyncMinRows?: number;
  /** Floats from which `auto` applies a penalty on the addon (default DEFAULT_NATIVE_PENALTY_MIN_VALUES). */
  nativePenaltyMinValues?: number;
  /** Cancels an async merge (rejects with AbortError). */
  signal?: AbortSignal;
}

/** Reads ENGRAM_GATHER_BACKEND (unset or empty means `auto`). */
export function gatherBackendSetting(env: NodeJS.ProcessEnv = process.env): GatherBackend | 'auto' {
  const raw = env.ENGRAM_GATHER_BACKEND;
  if (raw === undefined || raw === '') return 'auto';
  if (raw === 'auto' || raw === 'native' || raw === 'ts') return raw;
  throw new ConfigError('ENGRAM_GATHER_BACKEND', `must be native, ts or auto (got ${JSON.stringify(raw)})`);
}

/** The addon if it loaded and exports the merges, else null (then everything runs in TS). */
export function gatherNative(): GatherNative | null {
  const b = nativeBinding() as unknown as Partial<GatherNative> | null;
  return b && typeof b.mergeRecall === 'function' ? (b as GatherNative) : null;
}

/** Rows the parts claim (from their offsets' length), the size that picks the backend. */
export function totalRows(parts: readonly PartBase[]): number {
  let rows = 0;
  for (const p of parts) rows += Math.max(0, Math.floor(p.offsets.byteLength / 4) - 1);
  return rows;
}

/** The addon when this call should use it, else null. Throws when `native` is forced but absent. */
export function chooseNative(size: number, minSize: number, options: GatherOptions = {}): GatherNative | null {
  const backend = options.backend ?? gatherBackendSetting();
  if (backend === 'ts') return null;
  if (backend === 'native') {
    const native = gatherNative();
    if (!native) throw new NativeUnavailableError('gather backend "native" was requested but the addon has no gather merges', undefined);
    return native;
  }
  return size >= minSize ? gatherNative() : null;
}

/** Merges Recall partition results (see docs/gather-spec.md); `limit` is rows kept and each partition's cap. */
export function mergeRecall(parts: RecallPart[], limit: number, options: GatherOptions = {}): RecallMerged {
  const native = chooseNative(totalRows(parts), options.nativeMinRows ?? DEFAULT_NATIVE_MIN_ROWS, options);
  return native ? callNative(() => native.mergeRecall(parts, limit)) : referenceMergeRecall(parts, limit);
}

/** Merges Spread activation maps: sums per id over partitions, clamped to 1. */
export function mergeSpread(parts: SpreadPart[], options: GatherOptions = {}): SpreadMerged {
  const native = chooseNative(totalRows(parts), options.nativeMinRows ?? DEFAULT_NATIVE_MIN_ROWS, options);
  return native ? callNative(() => native.mergeSpread(parts)) : referenceMergeSpread(parts);
}

/** Merges the f64 pulses of a Spread over several spaces: sums per id, clamped to 1, as wire columns. */
export function mergePulses(parts: PulsePart[], options: GatherOptions = {}): PulseMerged {
  const native = chooseNative(totalRows(parts), options.nativeMinRows ?? DEFAULT_NATIVE_MIN_ROWS, options);
  return native ? callNative(() => native.mergePulses(parts)) : referenceMergePulses(parts);
}

/** Merges Imagine items: all rows sorted by confidence desc; `maxRows` caps each partition. */
export function mergeImagine(parts: ImaginePart[], maxRows: number, options: GatherOptions = {}): ImagineMerged {
  const native = chooseNative(totalRows(parts), options.nativeMinRows ?? DEFAULT_NATIVE_MIN_ROWS, options);
  return native ? callNative(() => native.mergeImagine(parts, maxRows)) : referenceMergeImagine(parts, maxRows);
}

/** mergeRecall, off the JS thread from `asyncMinRows` rows on; cancellable through `signal`. */
export function mergeRecallAsync(parts: RecallPart[], limit: number, options: GatherOptions = {}): Promise<RecallMerged> {
  return runAsync(parts, options, (n, s) => n.mergeRecallAsync(parts, limit, s), () => mergeRecall(parts, limit, options));
}

/** mergeSpread, off the JS thread from `asyncMinRows` rows on; cancellable through `signal`. */
export function mergeSpreadAsync(parts: SpreadPart[], options: GatherOptions = {}): Promise<SpreadMerged> {
  return runAsync(parts, options, (n, s) => n.mergeSpreadAsync(parts, 0, s), () => mergeSpread(parts, options));
}

/** mergePulses, off the JS thread from `asyncMinRows` rows on; cancellable through `signal`. */
export function mergePulsesAsync(parts: PulsePart[], options: GatherOptions = {}): Promise<PulseMerged> {
  return runAsync(parts, options, (n, s) => n.mergePulsesAsync(parts, s), () => mergePulses(parts, options));
}

/** mergeImagine, off the JS thread from `asyncMinRows` rows on; cancellable through `signal`. */
export function mergeImagineAsync(parts: ImaginePart[], maxRows: number, options: GatherOptions = {}): Promise<ImagineMerged> {
  return runAsync(parts, options, (n, s) => n.mergeImagineAsync(parts, maxRows, s), () => mergeImagine(parts, maxRows, options));
}

/** Complete / Consolidate: index of the first primary copy, else the first copy; -1 when empty. */
export function pickOne(primary: readonly boolean[]): number {
  // A scalar walk: the FFI call alone costs more than the whole loop.
  return referencePickOne(primary);
}

/** DESIGN §3 penalty for `missing` of `expected` partitions, as f32 (a fraction in [0, 0.5]). */
export function penalty(expected: number, missing: number, partitioned: boolean): number {
  // Scalar f64 arithmetic: TS gives the same bits without the FFI hop.
  return referencePenalty(expected, missing, partitioned);
}

/** Scales `values` by `1 - penalty` in place (f32 rounding as the spec says). */
export function applyPenalty(values: Float32Array, penaltyValue: number, options: GatherOptions = {}): void {
  const native = chooseNative(values.length, options.nativePenaltyMinValues ?? DEFAULT_NATIVE_PENALTY_MIN_VALUES, options);
  if (native) native.applyPenalty(values, penaltyValue);
  else referenceApplyPenalty(values, penaltyValue);
}

async function runAsync<R>(
  parts: readonly PartBase[],
  options: GatherOptions,
  onPool: (native: GatherNative, signal: AbortSignal | undefined) => Promise<R>,
  inline: () => R,
): Promise<R> {
  const { signal } = options;
  if (signal?.aborted) throw new AbortError();
  const rows = totalRows(parts);
  const native = chooseNative(rows, options.nativeMinRows ?? DEFAULT_NATIVE_MIN_ROWS, options);
  if (!native || rows < (options.asyncMinRows ?? DEFAULT_ASYNC_MIN_ROWS)) return inline();
  try {
    return await onPool(native, signal);
  } catch (error) {
    if (signal?.aborted || isAbort(error)) throw new AbortError();
    throw mapNativeError(error);
  }
}

function callNative<R>(call: () => R): R {
  try {
    return call();
  } catch (error) {
    throw mapNativeError(error);
  }
}

function isAbort(error: unknown): boolean {
  const e = error as { code?: unknown; name?: unknown } | null;
  return !!e && (e.code === 'ERR_ABORTED' || e.name === 'AbortError' || e.code === 'ABORT_ERR');
}

/** The addon's input errors become the same GatherInputError the TS reference throws. */
function mapNativeError(error: unknown): unknown {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (e && e.code === 'ERR_GATHER_INPUT') return new GatherInputError(String(e.message));
  return error;
}

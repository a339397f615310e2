/**
 * The gather phase: merges the partition answers of one query (through the native or TS merge),
 * counts coverage, applies the confidence penalty, and materializes the result.
 */
import { isUtf8 } from 'node:buffer';
import { AllPartitionsFailedError, InsufficientCoverageError, QueryDeadlineExceededError } from '../errors.js';
import * as gather from '../gather/gather-engine.js';
import type { Rejection } from '../gather/gather-types.js';
import { f32Column, f64Column, rowCount, stringAt, u32Column } from '../wire/columns.js';
import type { ImagineColumns, RecallColumns, SpreadColumns } from '../wire/columns.js';
import { buildCoverage, type Coverage } from './coverage.js';
import type { PartitionOutcome } from './outcome.js';
import type { Activation, ImaginedItem, QueryResult, RecalledMemory } from './result.js';
import type { PartitionAnswer, Query, QueryOptions } from './types.js';
import { DEFAULT_RECALL_LIMIT, DEFAULT_IMAGINE_LIMIT } from '../engine/limits.js';
import { compareIds } from '../engine/ids.js';

/** Extra columns the merge does not read still have to be well-formed before we trust a row. */
function extraColumnsProblem(kind: 'recall' | 'imagine', c: RecallColumns | ImagineColumns): string | undefined {
  // The merge rejects these too, but the row count below would be a fraction of a row first.
  if (c.idOffsets.byteLength % 4 !== 0) return `BAD_OFFSETS: id offsets have ${c.idOffsets.byteLength} bytes, not a multiple of 4`;
  const n = rowCount(c.idOffsets);
  const strings = (name: string, blob: Uint8Array, offsets: Uint8Array) => {
    if (offsets.byteLength % 4 !== 0 || rowCount(offsets) !== n) return `${name} offsets do not describe ${n} rows`;
    if (n === 0) return blob.byteLength === 0 ? undefined : `${name} has bytes but no rows`;
    const o = u32Column(offsets);
    if (o[0] !== 0 || o[n] !== blob.byteLength) return `${name} offsets do not span the blob`;
    for (let i = 0; i < n; i++) if (o[i + 1]! < o[i]!) return `${name} offsets decrease at ${i}`;
    if (!isUtf8(blob)) return `${name} is not UTF-8`;
    return undefined;
  };
  // A NaN or an impossible value would pass through the merge into the caller's answer.
  const values = (name: string, column: Float32Array | Float64Array, ok: (x: number) => boolean) => {
    for (let i = 0; i < column.length; i++) if (!ok(column[i]!)) return `${name}[${i}]=${column[i]} is out of range`;
    return undefined;
  };
  if (kind === 'recall') {
    const r = c as RecallColumns;
    if (r.similarity.byteLength !== 4 * n) return `similarity has ${r.similarity.byteLength} bytes for ${n} rows`;
    if (r.createdAt.byteLength !== 8 * n) return `createdAt has ${r.createdAt.byteLength} bytes for ${n} rows`;
    return (
      values('similarity', f32Column(r.similarity), (x) => x >= -1 && x <= 1) ??
      values('createdAt', f64Column(r.createdAt), (x) => Number.isFinite(x) && x >= 0) ??
      strings('content', r.content, r.contentOffsets)
    );
  }
  const m = c as ImagineColumns;
  if (!Number.isInteger(m.dimension) || m.embeddings.byteLength !== 4 * n * m.dimension) return `embeddings do not hold ${n} × ${m.dimension} floats`;
  return (
    values('embeddings', f32Column(m.embeddings), Number.isFinite) ??
    strings('sources', m.sources, m.sourceOffsets) ??
    strings('content', m.content, m.contentOffsets)
  );
}

/** What is wrong with a single-copy answer (Complete, Consolidate) that the merges do not see. */
function singleAnswerProblem(query: Query, answer: PartitionAnswer): string | undefined {
  if (answer.kind === 'complete' && query.kind === 'complete') {
    const c = answer.complete;
    if (!(c.confidence >= 0 && c.confidence <= 1)) return `confidence ${c.confidence} is not in [0, 1]`;
    if (c.embedding.length !== query.values.length) return `embedding has ${c.embedding.length} values, the pattern ${query.values.length}`;
    if (!c.embedding.every(Number.isFinite)) return 'embedding holds a value that is not finite';
    return undefined;
  }
  if (answer.kind === 'consolidate') {
    const { stoppedEarly, ...counts } = answer.consolidate;
    if (typeof stoppedEarly !== 'boolean') return `stoppedEarly=${String(stoppedEarly)} is not a boolean`;
    const bad = Object.entries(counts).find(([, v]) => typeof v !== 'number' || !Number.isFinite(v) || v < 0);
    return bad ? `${bad[0]}=${String(bad[1])} is not a count` : undefined;
  }
  return undefined;
}

function reject(outcome: PartitionOutcome, reason: string): void {
  outcome.status = 'error';
  outcome.reason = reason;
  delete outcome.answer;
}

function applyRejections(outcomes: PartitionOutcome[], rejected: Rejection[]): void {
  for (const r of rejected) {
    const o = outcomes.find((x) => x.index === r.partition);
    if (o) reject(o, `malformed answer: ${r.code}: ${r.message}`);
  }
}

/** Coverage after the merge, or the typed error when too little answered. */
export function checkCoverage(outcomes: PartitionOutcome[], options: QueryOptions, partitioned: boolean, budgetMs: number | undefined): Coverage {
  const responding = outcomes.filter((o) => o.status === 'ok').length;
  const missing = outcomes.length - responding;
  const pen = gather.penalty(outcomes.length, missing, partitioned);
  const coverage = buildCoverage(
    outcomes.map(({ answer: _a, index: _i, fatal: _f, ...rest }) => rest),
    pen,
    partitioned,
  );
  if (responding === 0) {
    // Every partition ran out of time: the query's deadline, not the copies, is what failed.
    if (budgetMs !== undefined && coverage.timedOut === coverage.expected) throw new QueryDeadlineExceededError(coverage, budgetMs);
    throw new AllPartitionsFailedError(coverage);
  }
  if (options.allowPartial === false && missing > 0) throw new InsufficientCoverageError(coverage, 'all were required (allowPartial=false)');
  const min = options.minCoverage ?? 0;
  if (responding / outcomes.length < min) throw new InsufficientCoverageError(coverage, `minCoverage ${min} was required`);
  return coverage;
}

/**
 * Merges answered partitions of `query` into one result; `scattered` are in plan order. Large
 * merges leave the JS thread (the facade decides by size). `budgetMs`: the query's deadline, for
 * the error when every partition timed out (QueryDeadlineExceededError, else AllPartitionsFailedError);
 * `signal`: the caller's cancellation, which stops a merge running off the JS thread.
 */
export async function gatherAnswers(query: Query, scattered: readonly PartitionOutcome[], options: QueryOptions, partitioned = false, budgetMs?: number, signal?: AbortSignal): Promise<QueryResult> {
  const merge = signal ? { signal } : {};
  // The gather marks rejected answers on its own copies: the scatter's outcomes stay as they came.
  const outcomes = scattered.map((o) => ({ ...o }));
  const ok = () => outcomes.filter((o) => o.status === 'ok' && o.answer);
  // A copy may answer with another kind of result (a bug or a hostile node): its columns would
  // be read as the wrong shape, so it is a failed partition before anything touches them.
  for (const o of ok()) {
    if (o.answer!.kind !== query.kind) reject(o, `malformed answer: a ${o.answer!.kind} result to a ${query.kind} query`);
    else {
      const problem = singleAnswerProblem(query, o.answer!);
      if (problem) reject(o, `malformed answer: ${problem}`);
    }
  }
  switch (query.kind) {
    case 'recall': {
      const answered = ok();
      for (const o of answered) {
        const problem = extraColumnsProblem('recall', (o.answer as { columns: RecallColumns }).columns);
        if (problem) reject(o, `malformed answer: ${problem}`);
      }
      const cols = new Map(ok().map((o) => [o.index, (o.answer as { columns: RecallColumns }).columns]));
      const merged = await gather.mergeRecallAsync(
        [...cols].map(([index, c]) => ({ index, ids: c.ids, offsets: c.idOffsets, lower: c.lower, upper: c.upper })),
        query.limit ?? DEFAULT_RECALL_LIMIT,
        merge,
      );
      applyRejections(outcomes, merged.rejected);
      const coverage = checkCoverage(outcomes, options, partitioned, budgetMs);
      gather.applyPenalty(merged.lower, coverage.penalty);
      gather.applyPenalty(merged.upper, coverage.penalty);
      const memories: RecalledMemory[] = [];
      for (let i = 0; i < merged.partition.length; i++) {
        const c = cols.get(merged.partition[i]!)!;
        const row = merged.row[i]!;
        memories.push({
          id: stringAt(c.ids, u32Column(c.idOffsets), row),
          space: outcomes.find((o) => o.index === merged.partition[i])!.partition,
          content: stringAt(c.content, u32Column(c.contentOffsets), row),
          confidence: { lower: merged.lower[i]!, upper: merged.upper[i]! },
          similarity: f32Column(c.similarity)[row]!,
          createdAt: f64Column(c.createdAt)[row]!,
        });
      }
      return { kind: 'recall', memories, coverage };
    }
    case 'spread': {
      const cols = new Map(ok().map((o) => [o.index, (o.answer as { columns: SpreadColumns }).columns]));
      const merged = await gather.mergeSpreadAsync([...cols].map(([index, c]) => ({ index, ids: c.ids, offsets: c.idOffsets, activation: c.activation })), merge);
      applyRejections(outcomes, merged.rejected);
      const coverage = checkCoverage(outcomes, options, partitioned, budgetMs);
      gather.applyPenalty(merged.activation, coverage.penalty);
      const activations: Activation[] = [];
      for (let i = 0; i < merged.partition.length; i++) {
        const c = cols.get(merged.partition[i]!)!;
        activations.push({ id: stringAt(c.ids, u32Column(c.idOffsets), merged.row[i]!), activation: merged.activation[i]! });
      }
      activations.sort((a, b) => b.activation - a.activation || compareIds(a.id, b.id));
      return { kind: 'spread', activations, coverage };
    }
    case 'imagine': {
      for (const o of ok()) {
        const problem = extraColumnsProblem('imagine', (o.answer as { columns: ImagineColumns }).columns);
        if (problem) reject(o, `malformed answer: ${problem}`);
      }
      const cols = new Map(ok().map((o) => [o.index, (o.answer as { columns: ImagineColumns }).columns]));
      const merged = await gather.mergeImagineAsync(
        [...cols].map(([index, c]) => ({ index, ids: c.ids, offsets: c.idOffsets, confidence: c.confidence })),
        query.limit ?? DEFAULT_IMAGINE_LIMIT,
        merge,
      );
      applyRejections(outcomes, merged.rejected);
      const coverage = checkCoverage(outcomes, options, partitioned, budgetMs);
      gather.applyPenalty(merged.confidence, coverage.penalty);
      const items: ImaginedItem[] = [];
      for (let i = 0; i < merged.partition.length; i++) {
        const c = cols.get(merged.partition[i]!)!;
        const row = merged.row[i]!;
        const emb = f32Column(c.embeddings);
        items.push({
          id: stringAt(c.ids, u32Column(c.idOffsets), row),
          space: outcomes.find((o) => o.index === merged.partition[i])!.partition,
          source: stringAt(c.sources, u32Column(c.sourceOffsets), row),
          content: stringAt(c.content, u32Column(c.contentOffsets), row),
          confidence: merged.confidence[i]!,
          embedding: emb.slice(row * c.dimension, (row + 1) * c.dimension),
        });
      }
      return { kind: 'imagine', items, coverage };
    }
    case 'complete':
    case 'consolidate': {
      const answered = ok();
      const coverage = checkCoverage(outcomes, options, partitioned, budgetMs);
      const pick = gather.pickOne(answered.map((o) => o.role === 'primary'));
      const chosen = answered[pick]!.answer!;
      if (chosen.kind === 'complete') {
        const factor = 1 - coverage.penalty;
        return { kind: 'complete', complete: { ...chosen.complete, confidence: chosen.complete.confidence * factor }, coverage };
      }
      if (chosen.kind === 'consolidate') return { kind: 'consolidate', consolidate: chosen.consolidate, coverage };
      throw new Error(`partition answered ${chosen.kind} to a ${query.kind} query`);
    }
  }
}

/** QueryResult ↔ the public QueryResponse message. */
import { coverageFromWire, coverageToWire } from './coverage.js';
import type { QueryResult } from './result.js';
import type { CoverageMsg } from '../wire/messages.js';

export function resultToWire(r: QueryResult): Record<string, unknown> {
  const coverage = coverageToWire(r.coverage);
  switch (r.kind) {
    case 'recall':
      return { recall: { memories: r.memories }, coverage };
    case 'spread':
      return { spread: { activations: r.activations }, coverage };
    case 'complete':
      return { complete: { ...r.complete, embedding: Array.from(r.complete.embedding) }, coverage };
    case 'consolidate':
      return { consolidate: r.consolidate, coverage };
    case 'imagine':
      return { imagine: { items: r.items.map((i) => ({ ...i, embedding: Array.from(i.embedding) })) }, coverage };
  }
}

interface QueryResponseMsg {
  result?: QueryResult['kind'];
  recall?: { memories: any[] };
  spread?: { activations: any[] };
  complete?: { embedding: number[]; confidence: number; sources: string[] };
  consolidate?: any;
  imagine?: { items: any[] };
  coverage: CoverageMsg;
}

export function resultFromWire(msg: QueryResponseMsg): QueryResult {
  const coverage = coverageFromWire(msg.coverage);
  switch (msg.result) {
    case 'recall':
      return { kind: 'recall', memories: msg.recall!.memories, coverage };
    case 'spread':
      // proto3 sends '' for the space of a one-space Spread's rows: the field is then left out.
      return { kind: 'spread', activations: msg.spread!.activations.map((a: { id: string; activation: number; space?: string }) => (a.space ? a : { id: a.id, activation: a.activation })), coverage };
    case 'complete':
      return { kind: 'complete', complete: { ...msg.complete!, embedding: Float32Array.from(msg.complete!.embedding) }, coverage };
    case 'consolidate':
      return { kind: 'consolidate', consolidate: msg.consolidate, coverage };
    case 'imagine':
      return { kind: 'imagine', items: msg.imagine!.items.map((i) => ({ ...i, embedding: Float32Array.from(i.embedding) })), coverage };
    default:
      throw new Error(`response carries no result (${String(msg.result)})`);
  }
}

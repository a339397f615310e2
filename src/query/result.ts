/** What a query answers: the merged result of its kind, with its coverage. */
import type { Coverage } from './coverage.js';
import type { CompleteAnswer, ConsolidateAnswer, QueryKind } from './types.js';

export interface RecalledMemory {
  id: string;
  /** Space the memory lives in. */
  space: string;
  content: string;
  /** Confidence interval after the coverage penalty. */
  confidence: { lower: number; upper: number };
  /** Cosine similarity to the cue. */
  similarity: number;
  /** ms since the Unix epoch. */
  createdAt: number;
}

export interface Activation {
  id: string;
  activation: number;
  /** The memory's space, in a Spread over several spaces (absent over one space). */
  space?: string;
}

export interface ImaginedItem {
  id: string;
  space: string;
  /** Id of the memory it was imagined from. */
  source: string;
  content: string;
  /** Confidence after the coverage penalty. */
  confidence: number;
  embedding: Float32Array;
}

export type QueryResult =
  | { kind: 'recall'; memories: RecalledMemory[]; coverage: Coverage }
  | { kind: 'spread'; activations: Activation[]; coverage: Coverage }
  | { kind: 'complete'; complete: CompleteAnswer; coverage: Coverage }
  | { kind: 'consolidate'; consolidate: ConsolidateAnswer; coverage: Coverage }
  | { kind: 'imagine'; items: ImaginedItem[]; coverage: Coverage };

export type ResultOf<K extends QueryKind> = Extract<QueryResult, { kind: K }>;

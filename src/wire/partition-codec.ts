/** PartitionResult messages ↔ PartitionAnswer, columns passed through as byte views (no copy). */
import { MalformedPartitionResultError } from '../errors.js';
import type { PartitionAnswer } from '../query/types.js';

type Bytes = Uint8Array;
const asBuffer = (b: Bytes): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** The wire form (camelCase, as proto-loader serializes it). */
export function partitionToWire(partition: string, answer: PartitionAnswer): Record<string, unknown> {
  const copy = answer.copy ? { raftRole: answer.copy.raftRole, behind: answer.copy.behind } : {};
  return { ...partitionBody(partition, answer), ...copy };
}

function partitionBody(partition: string, answer: PartitionAnswer): Record<string, unknown> {
  switch (answer.kind) {
    case 'recall': {
      const c = answer.columns;
      return {
        partition,
        recall: {
          ids: asBuffer(c.ids), idOffsets: asBuffer(c.idOffsets), lower: asBuffer(c.lower), upper: asBuffer(c.upper),
          similarity: asBuffer(c.similarity), content: asBuffer(c.content), contentOffsets: asBuffer(c.contentOffsets),
          createdAt: asBuffer(c.createdAt),
        },
      };
    }
    case 'spread': {
      const c = answer.columns;
      return { partition, spread: { ids: asBuffer(c.ids), idOffsets: asBuffer(c.idOffsets), activation: asBuffer(c.activation) } };
    }
    case 'imagine': {
      const c = answer.columns;
      return {
        partition,
        imagine: {
          ids: asBuffer(c.ids), idOffsets: asBuffer(c.idOffsets), confidence: asBuffer(c.confidence),
          sources: asBuffer(c.sources), sourceOffsets: asBuffer(c.sourceOffsets), content: asBuffer(c.content),
          contentOffsets: asBuffer(c.contentOffsets), embeddings: asBuffer(c.embeddings), dimension: c.dimension,
        },
      };
    }
    case 'complete':
      return { partition, complete: { embedding: Array.from(answer.complete.embedding), confidence: answer.complete.confidence, sources: answer.complete.sources } };
    case 'consolidate':
      return { partition, consolidate: answer.consolidate };
    case 'response':
      return { partition, response: asBuffer(answer.response) };
  }
}

interface PartitionResultMsg {
  partition: string;
  result?: 'recall' | 'spread' | 'complete' | 'consolidate' | 'imagine' | 'response';
  response?: Bytes;
  recall?: Record<string, Bytes>;
  spread?: Record<string, Bytes>;
  imagine?: Record<string, Bytes> & { dimension: number };
  complete?: { embedding: number[]; confidence: number; sources: string[] };
  consolidate?: { memories: number; patternsCreated: number; patternsTotal: number; memoriesInPatterns: number; durationMs: number; stoppedEarly: boolean };
  raftRole?: string;
  behind?: number | string;
}

/** Decoded PartitionResult → answer; the byte columns stay views into the received message. */
export function partitionFromWire(msg: PartitionResultMsg): PartitionAnswer {
  const answer = answerBody(msg);
  return msg.raftRole ? { ...answer, copy: { raftRole: msg.raftRole, behind: Number(msg.behind ?? 0) } } : answer;
}

function answerBody(msg: PartitionResultMsg): PartitionAnswer {
  switch (msg.result) {
    case 'recall': {
      const r = msg.recall!;
      return {
        kind: 'recall',
        columns: {
          ids: r.ids!, idOffsets: r.idOffsets!, lower: r.lower!, upper: r.upper!, similarity: r.similarity!,
          content: r.content!, contentOffsets: r.contentOffsets!, createdAt: r.createdAt!,
        },
      };
    }
    case 'spread': {
      const r = msg.spread!;
      return { kind: 'spread', columns: { ids: r.ids!, idOffsets: r.idOffsets!, activation: r.activation! } };
    }
    case 'imagine': {
      const r = msg.imagine!;
      return {
        kind: 'imagine',
        columns: {
          ids: r.ids!, idOffsets: r.idOffsets!, confidence: r.confidence!, sources: r.sources!, sourceOffsets: r.sourceOffsets!,
          content: r.content!, contentOffsets: r.contentOffsets!, embeddings: r.embeddings!, dimension: r.dimension,
        },
      };
    }
    case 'complete': {
      const r = msg.complete!;
      return { kind: 'complete', complete: { embedding: Float32Array.from(r.embedding), confidence: r.confidence, sources: r.sources } };
    }
    case 'consolidate':
      return { kind: 'consolidate', consolidate: { ...msg.consolidate! } };
    case 'response':
      return { kind: 'response', response: msg.response! };
    default:
      throw new MalformedPartitionResultError(`no result set (got ${JSON.stringify(msg.result ?? null)})`);
  }
}

/** PartitionResult messages ↔ PartitionAnswer, columns passed through as byte views (no copy). */
import { MalformedPartitionResultError } from '../errors.js';
import type { PartitionAnswer, SpreadRoundQuery } from '../query/types.js';
import type { PulseColumns } from './columns.js';

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
    case 'spread-round':
      return {
        partition,
        spreadRound: {
          reached: pulsesToWire(answer.round.reached),
          leaving: answer.round.leaving.map((l) => ({ space: l.space, pulses: pulsesToWire(l.pulses) })),
        },
      };
  }
}

function pulsesToWire(c: PulseColumns): Record<string, Buffer> {
  return { ids: asBuffer(c.ids), idOffsets: asBuffer(c.idOffsets), values: asBuffer(c.values) };
}

type PulsesMsg = { ids?: Bytes; idOffsets?: Bytes; values?: Bytes } | null | undefined;

function pulsesFromWire(m: PulsesMsg): PulseColumns {
  const empty = new Uint8Array(0);
  return { ids: m?.ids ?? empty, idOffsets: m?.idOffsets ?? empty, values: m?.values ?? empty };
}

/** The `spread_round` of a LocalQueryRequest for one round of a Spread over several spaces. */
export function spreadRoundToWire(q: SpreadRoundQuery): Record<string, unknown> {
  return {
    hop: q.hop, decay: q.decay, threshold: q.threshold, emit: q.emit, spaces: q.spaces,
    frontier: pulsesToWire(q.frontier), incoming: pulsesToWire(q.incoming),
  };
}

export interface SpreadRoundMsg {
  hop: number;
  decay: number;
  threshold: number;
  frontier: PulsesMsg;
  incoming: PulsesMsg;
  emit: boolean;
  spaces: string[];
}

/** A decoded `spread_round` → the round query on `space`; the columns stay views into the message. */
export function spreadRoundFromWire(space: string, m: SpreadRoundMsg): SpreadRoundQuery {
  return {
    kind: 'spread-round', space, hop: m.hop, decay: m.decay, threshold: m.threshold, emit: m.emit, spaces: m.spaces,
    frontier: pulsesFromWire(m.frontier), incoming: pulsesFromWire(m.incoming),
  };
}

interface PartitionResultMsg {
  partition: string;
  result?: 'recall' | 'spread' | 'complete' | 'consolidate' | 'imagine' | 'response' | 'spreadRound';
  spreadRound?: { reached: PulsesMsg; leaving: { space: string; pulses: PulsesMsg }[] };
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
    case 'spreadRound': {
      const r = msg.spreadRound!;
      return { kind: 'spread-round', round: { reached: pulsesFromWire(r.reached), leaving: (r.leaving ?? []).map((l) => ({ space: l.space, pulses: pulsesFromWire(l.pulses) })) } };
    }
    default:
      throw new MalformedPartitionResultError(`no result set (got ${JSON.stringify(msg.result ?? null)})`);
  }
}

/** The CLI's commands: parse their flags, call the node, return JSON and text renderings. */
import { readFile } from 'node:fs/promises';
import type { EngramClient, MemoryRecord, AssociationRecord, AckLevel } from '../client/engram-client.js';
import { embedText } from '../engine/text-embedder.js';
import type { Cue, Query, QueryOptions } from '../query/types.js';
import { renderResult, table } from './format.js';

/** Bad command line: exit code 2 with the usage text. */
export class UsageError extends Error {}

type Flags = Record<string, string | boolean | undefined>;

function num(flags: Flags, name: string, integer = false): number | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a${integer ? 'n integer' : ' number'} (got ${JSON.stringify(raw)})`);
  }
  return n;
}

function jsonArray(flags: Flags, name: string): unknown[] {
  try {
    const v = JSON.parse(String(flags[name]));
    if (!Array.isArray(v)) throw new Error('not an array');
    return v;
  } catch (err) {
    throw new UsageError(`--${name} must be a JSON array (${(err as Error).message})`);
  }
}

function cue(flags: Flags): Cue {
  if (typeof flags.text === 'string') return { text: flags.text };
  if (typeof flags.embedding === 'string') return { embedding: Float32Array.from(jsonArray(flags, 'embedding') as number[]) };
  throw new UsageError('a cue is needed: --text or --embedding');
}

function need(positionals: string[], i: number, what: string): string {
  const v = positionals[i];
  if (!v) throw new UsageError(`missing ${what}`);
  return v;
}

function queryOptions(flags: Flags): QueryOptions {
  const timeoutMs = num(flags, 'timeout-ms', true);
  const minCoverage = num(flags, 'min-coverage');
  return {
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(flags['no-partial'] ? { allowPartial: false } : {}),
    ...(minCoverage !== undefined ? { minCoverage } : {}),
  };
}

/** Reads a JSONL file of memories and associations; text-only memories are embedded here. */
async function readRecords(file: string, dimension: number): Promise<{ memories: MemoryRecord[]; associations: AssociationRecord[] }> {
  const memories: MemoryRecord[] = [];
  const associations: AssociationRecord[] = [];
  const lines = (await readFile(file, 'utf8')).split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line);
    } catch (err) {
      throw new UsageError(`${file}:${i + 1}: not JSON (${(err as Error).message})`);
    }
    if ('from' in rec) {
      associations.push(rec as unknown as AssociationRecord);
    } else {
      const embedding = Array.isArray(rec.embedding) ? (rec.embedding as number[]) : typeof rec.text === 'string' ? embedText(rec.text, dimension) : undefined;
      if (!embedding) throw new UsageError(`${file}:${i + 1}: a memory needs "embedding" or "text"`);
      const { text, ...rest } = rec;
      memories.push({ ...(rest as unknown as MemoryRecord), embedding, content: typeof rec.content === 'string' ? rec.content : typeof text === 'string' ? text : '' });
    }
  }
  return { memories, associations };
}

async function spaceDimension(client: EngramClient, space: string): Promise<number> {
  const status = await client.status();
  // In a cluster the assignment table knows every space; a node of its own knows its spaces.
  const s = status.assignments.find((x) => x.space === space) ?? status.spaces.find((x) => x.id === space);
  if (!s) throw new UsageError(`space "${space}" does not exist (asked ${client.nodes.join(', ')}); create it first`);
  return s.dimension;
}

export async function runCommand(client: EngramClient, positionals: string[], flags: Flags): Promise<{ json: unknown; text: string }> {
  const [command] = positionals;
  const run = async (query: Query) => {
    const result = await client.query(query, queryOptions(flags));
    return { json: result, text: renderResult(result) };
  };
  switch (command) {
    case 'space': {
      if (positionals[1] !== 'create') throw new UsageError('unknown space subcommand (expected: space create SPACE)');
      const space = need(positionals, 2, 'SPACE');
      const dimension = num(flags, 'dimension', true);
      const copies = num(flags, 'copies', true);
      const out = await client.createSpace(space, {
        ...(copies !== undefined ? { copies } : {}),
        ...(dimension !== undefined ? { dimension } : {}),
        ...(typeof flags.primary === 'string' ? { primary: flags.primary } : {}),
        ...(typeof flags.replicas === 'string' ? { replicas: flags.replicas.split(',').filter(Boolean) } : {}),
      });
      const where = `primary ${out.primary}${out.replicas.length ? `, replicas ${out.replicas.join(', ')}` : ', no replica'}`;
      return { json: out, text: `${out.created ? 'created' : 'exists'}: space ${out.space}, dimension ${out.dimension}, ${where}` };
    }
    case 'store': {
      const space = need(positionals, 1, 'SPACE');
      const file = need(positionals, 2, 'FILE.jsonl');
      const batch = num(flags, 'batch', true) ?? 1000;
      if (batch < 1) throw new UsageError('--batch must be at least 1');
      const ack = (flags.ack ?? 'quorum') as AckLevel;
      if (!['quorum', 'all'].includes(ack)) throw new UsageError('--ack must be quorum or all (one is retired: a failover could take it back)');
      const { memories, associations } = await readRecords(file, await spaceDimension(client, space));
      let stored = { memories: 0, associations: 0, batches: 0, logPosition: 0 };
      // Memories first, so associations in later batches find their endpoints.
      for (let i = 0; i < memories.length; i += batch) {
        const out = await client.store(space, { memories: memories.slice(i, i + batch), ack });
        stored = { ...stored, memories: stored.memories + out.memories, batches: stored.batches + 1, logPosition: out.logPosition };
      }
      for (let i = 0; i < associations.length; i += batch * 10) {
        const out = await client.store(space, { associations: associations.slice(i, i + batch * 10), ack });
        stored = { ...stored, associations: stored.associations + out.associations, batches: stored.batches + 1, logPosition: out.logPosition };
      }
      return { json: stored, text: `stored ${stored.memories} memories and ${stored.associations} associations in ${stored.batches} batches (log position ${stored.logPosition})` };
    }
    case 'recall': {
      const limit = num(flags, 'limit', true);
      const threshold = num(flags, 'threshold');
      return run({ kind: 'recall', space: need(positionals, 1, 'SPACE'), cue: cue(flags), ...(limit !== undefined ? { limit } : {}), ...(threshold !== undefined ? { threshold } : {}) });
    }
    case 'spread': {
      if (typeof flags.seeds !== 'string') throw new UsageError('spread needs --seeds ID,ID (SPACE/ID,SPACE/ID over several spaces)');
      const hops = num(flags, 'hops', true);
      const decay = num(flags, 'decay');
      const threshold = num(flags, 'threshold');
      // SPACE,SPACE… or --all-spaces: a Spread over several spaces (seeds SPACE/ID); one SPACE: over it.
      const all = flags['all-spaces'] === true;
      if (all && positionals[1] !== undefined) throw new UsageError('give SPACE[,SPACE…] or --all-spaces, not both');
      const spaces: string[] | 'all' = all ? 'all' : need(positionals, 1, 'SPACE[,SPACE…]').split(',').filter(Boolean);
      const where = spaces === 'all' || spaces.length > 1 ? { spaces } : { space: spaces[0]! };
      return run({
        kind: 'spread',
        ...where,
        seeds: flags.seeds.split(',').filter(Boolean),
        ...(hops !== undefined ? { hops } : {}),
        ...(decay !== undefined ? { decay } : {}),
        ...(threshold !== undefined ? { threshold } : {}),
      });
    }
    case 'complete': {
      const space = need(positionals, 1, 'SPACE');
      let values: Float32Array;
      let known: boolean[];
      if (typeof flags.text === 'string') {
        values = embedText(flags.text, await spaceDimension(client, space));
        const fraction = num(flags, 'known-fraction') ?? 0.5;
        const cut = Math.round(values.length * fraction);
        known = Array.from(values, (_v, i) => i < cut);
      } else if (typeof flags.values === 'string' && typeof flags.known === 'string') {
        values = Float32Array.from(jsonArray(flags, 'values') as number[]);
        known = (jsonArray(flags, 'known') as unknown[]).map(Boolean);
      } else {
        throw new UsageError('complete needs --text, or --values and --known');
      }
      const neighbours = num(flags, 'neighbours', true);
      return run({ kind: 'complete', space, values, known, ...(neighbours !== undefined ? { neighbours } : {}) });
    }
    case 'consolidate': {
      const threshold = num(flags, 'threshold');
      return run({ kind: 'consolidate', space: need(positionals, 1, 'SPACE'), ...(threshold !== undefined ? { threshold } : {}) });
    }
    case 'imagine': {
      const limit = num(flags, 'limit', true);
      const novelty = num(flags, 'novelty');
      return run({
        kind: 'imagine',
        spaces: need(positionals, 1, 'SPACE[,SPACE…]').split(',').filter(Boolean),
        cue: cue(flags),
        ...(limit !== undefined ? { limit } : {}),
        ...(novelty !== undefined ? { novelty } : {}),
      });
    }
    case 'status': {
      const s = await client.status();
      const parts = [
        `node ${s.nodeId} at ${s.grpcAddress}${s.gossipAddress ? ` (gossip ${s.gossipAddress})` : ''}, storage ${s.storageId}, version ${s.version}, up ${s.uptimeS.toFixed(1)} s, ${s.partitionState}`,
        table(['space', 'dimension', 'memories', 'associations', 'patterns', 'log position'], s.spaces.map((x) => [x.id, x.dimension, x.memories, x.associations, x.patterns, x.logPosition])),
      ];
      if (s.meta) {
        const m = s.meta;
        parts.push(`metadata: cluster ${m.clusterId}, leader ${m.leader || '(none)'}, term ${m.term}, this node ${m.role}\n  voters ${m.voters.join(',') || '-'}; learners ${m.learners.join(',') || '-'}; applied ${m.applied} of ${m.commit}; digest ${m.digest.slice(0, 16)}`);
      }
      if (s.members.length > 0) {
        parts.push(`members:\n${table(['id', 'state', 'grpc', 'gossip', 'incarnation'], s.members.map((m) => [m.id, m.state, m.grpcAddress, m.gossipAddress, m.incarnation]))}`);
        parts.push(`assignment table, metadata index ${s.tableVersion}:\n${table(['space', 'primary', 'replicas', 'dimension', 'since version'], s.assignments.map((a) => [a.space, a.primary, a.replicas.join(',') || '-', a.dimension, a.version]))}`);
      }
      if (s.groups.length > 0) {
        parts.push(`space groups on this node:\n${table(['space', 'leader', 'term', 'role', 'voters', 'learners', 'commit', 'applied', 'digest'], s.groups.map((g) => [g.space, g.leader || '-', g.term, g.role, g.voters.join(','), g.learners.join(',') || '-', g.commit, g.applied, g.digest.slice(0, 12)]))}`);
      }
      return { json: s, text: parts.join('\n\n') };
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

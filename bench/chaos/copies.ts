/**
 * Lists every memory id of every copy after the run. Each copy is read through its own node: a
 * Recall on a node that holds a copy answers from that copy (`preference: 'local'`: the planner
 * puts the local copy first and nothing is hedged), which the coverage's partition `node` confirms — an answer from any other node makes
 * the copy `unreadable`, never silently someone else's. Recall caps `limit` at 1000, so the copy
 * is read bucket by bucket (load.ts): a bucket that fills the limit is reported as truncated.
 */
import { MAX_RECALL_LIMIT } from '../../src/engine/limits.js';
import { errorName } from './history.js';
import { BUCKET_THRESHOLD, bucketDirection } from './load.js';
import type { SettledSpace } from './settle.js';
import type { World } from './world.js';

export interface CopyRead {
  space: string;
  node: string;
  /** Every id read, in bucket order (an id twice here is a duplicate in the copy). */
  ids: string[];
  /** Digest the node's status reported for its copy when settled. */
  digest: string;
  /** Why the copy could not be listed whole (empty when it was). */
  problems: string[];
}

export async function readCopies(world: World, settled: SettledSpace[], dimension: number): Promise<CopyRead[]> {
  const out: CopyRead[] = [];
  for (const s of settled) {
    for (const node of s.copies) {
      const read: CopyRead = { space: s.space, node, ids: [], digest: s.digest, problems: [] };
      for (let k = 0; k < 2 * dimension; k++) {
        try {
          const r = await world.client(node).query(
            { kind: 'recall', space: s.space, cue: { embedding: bucketDirection(k, dimension) }, limit: MAX_RECALL_LIMIT, threshold: BUCKET_THRESHOLD },
            // Its own copy, whatever the ranking thinks of it after the faults, and no hedge.
            { timeoutMs: 5_000, preference: 'local' },
          );
          const p = r.coverage.partitions[0];
          if (!r.coverage.full || p?.node !== node) read.problems.push(`bucket ${k}: answered by ${p?.node ?? 'nobody'} (${p?.status ?? '-'})`);
          else read.ids.push(...r.memories.map((m) => m.id));
          if (r.memories.length >= MAX_RECALL_LIMIT) read.problems.push(`bucket ${k}: ${r.memories.length} rows, may be truncated`);
        } catch (err) {
          read.problems.push(`bucket ${k}: ${errorName(err)}`);
        }
      }
      out.push(read);
    }
  }
  return out;
}

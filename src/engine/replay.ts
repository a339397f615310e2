/** Rebuilds a space's in-memory state from its log at open. */
import { StorageError } from '../errors.js';
import type { LogRecord } from '../storage/log-record.js';
import { SpaceLog, type WarnFn } from '../storage/space-log.js';
import { MAX_DIMENSION } from './limits.js';
import { SpaceState } from './space-state.js';

/** The replayed state and its open log, or null when the log held no complete header. */
export async function replaySpace(path: string, space: string, warn: WarnFn): Promise<{ state: SpaceState; log: SpaceLog } | null> {
  const replayed = await SpaceLog.open(path, space, warn);
  if (replayed === null) return null;
  const { log, header, records } = replayed;
  try {
    const dim = header.dimension;
    if (!Number.isInteger(dim) || dim < 1 || dim > MAX_DIMENSION) throw new StorageError(path, `header dimension ${dim} is not in 1..${MAX_DIMENSION}`);
    const state = new SpaceState(space, dim, 1);
    records.forEach((record, i) => {
      const position = i + 2;
      const problem = recordProblem(record, dim);
      if (problem !== null) throw new StorageError(path, `record ${position}: ${problem}`);
      if (record.type === 'store') state.applyStore(record, position);
      else if (record.type === 'patterns') state.applyPatterns(record, position);
    });
    return { state, log };
  } catch (e) {
    await log.close();
    throw e;
  }
}

/** Null when a record fits the space, else why not (the writer validated it: this is damage or a foreign file). */
function recordProblem(record: LogRecord, dim: number): string | null {
  switch (record.type) {
    case 'space':
      return 'a second space header';
    case 'store':
      for (const m of record.memories) if (m.embedding.length !== dim) return `memory "${m.id}" has ${m.embedding.length} dimensions`;
      return null;
    case 'patterns':
      for (const p of record.patterns) if (p.centroid.length !== dim) return `pattern "${p.id}" has ${p.centroid.length} dimensions`;
      return null;
  }
}

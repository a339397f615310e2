/**
 * A space's data on Raft (DESIGN §5, issue 12), the state-machine side: the copies of a space
 * form the Raft group `space/<id>` on the node's RaftHost (beside `meta`, on the same store and
 * transport); a store batch or a consolidation's patterns is one entry, applied to the engine in
 * log order on every copy (`Engine.applyEntry`, which logs the record with its Raft index and
 * skips what it already holds, so a restarted group may hand entries out again).
 *
 * Groundwork, not yet the running path: writes still go through the primary's log shipping
 * (src/cluster/replicator.ts). docs/raft.md, "Space groups", says what is left.
 */
import type { Engine } from '../engine/engine.js';
import { InvalidArgumentError } from '../errors.js';
import type { RaftStateMachine } from '../raft/raft-host.js';
import type { RaftCommittedEntry } from '../raft/raft-native-types.js';
import { SPACE_ID_PATTERN } from '../engine/limits.js';

/** Prefix of every space group's id. */
export const SPACE_GROUP_PREFIX = 'space/';

/** The Raft group id of `space`'s copies. */
export function spaceGroupId(space: string): string {
  if (!SPACE_ID_PATTERN.test(space)) throw new InvalidArgumentError('space', space, `must match ${SPACE_ID_PATTERN}`);
  return `${SPACE_GROUP_PREFIX}${space}`;
}

/** The space a group id names, or undefined when it is not a space group (e.g. `meta`). */
export function spaceOfGroup(group: string): string | undefined {
  if (!group.startsWith(SPACE_GROUP_PREFIX)) return undefined;
  const space = group.slice(SPACE_GROUP_PREFIX.length);
  return SPACE_ID_PATTERN.test(space) ? space : undefined;
}

/**
 * Applies the committed entries of every space group to the engine. Conf changes and a new
 * leader's empty entry carry no data; everything else is a record for `Engine.applyEntry`.
 */
export class SpaceGroupStateMachine implements Pick<RaftStateMachine, 'apply' | 'applySnapshot'> {
  constructor(private readonly engine: Engine) {}

  async apply(group: string, entry: RaftCommittedEntry): Promise<void> {
    if (entry.confChange || entry.data.byteLength === 0) return;
    const space = spaceOfGroup(group);
    if (space === undefined) throw new InvalidArgumentError('group', group, 'is not a space group');
    await this.engine.applyEntry(space, entry.index, entry.data);
  }

  /**
   * A space's snapshot is its log, streamed in bounded chunks: not built yet. Until it is, space
   * groups are never compacted, so no leader ever sends one.
   */
  applySnapshot(group: string, snapshot: { index: number; data: Uint8Array }): void {
    if (snapshot.data.byteLength === 0) return;
    throw new InvalidArgumentError('snapshot', group, 'space snapshots are not built yet: space groups are never compacted (issue 12)');
  }
}

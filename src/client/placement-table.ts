/**
 * The placement table as the client learns it from a node's Status: where each space's copies
 * are, and which members can be called. Only a hint: a call it misroutes still succeeds, through
 * another copy or a configured node.
 */
import type { NodeStatus } from './node-status.js';

/** A copy of a space on a member the client may call. */
export interface CopyHolder {
  node: string;
  /** The member's gRPC address, as the cluster knows it. */
  address: string;
  /** The table's primary is the hint for the space group's leader. */
  role: 'primary' | 'replica';
  /** `suspect` members are still called (SWIM has not decided), after `alive` ones. */
  state: 'alive' | 'suspect';
}

interface Placement { primary: string; replicas: string[] }
interface Callable { address: string; state: 'alive' | 'suspect' }

export class PlacementTable {
  private constructor(
    /** The metadata log index of the assignments (Status `tableVersion`). */
    readonly version: number,
    private readonly placements: ReadonlyMap<string, Placement>,
    private readonly members: ReadonlyMap<string, Callable>,
  ) {}

  /**
   * The table of a Status answer. Assignments come from whichever of `previous` and the answer
   * has the higher version (a node that lags its metadata group may answer with an older table);
   * member states always come from the answer, the newer word on who is up.
   */
  static fromStatus(status: NodeStatus, previous?: PlacementTable): PlacementTable {
    const members = new Map<string, Callable>();
    for (const m of status.members ?? []) {
      // Down and left members are never called; a member without an address cannot be.
      if ((m.state === 'alive' || m.state === 'suspect') && m.grpcAddress) members.set(m.id, { address: m.grpcAddress, state: m.state });
    }
    const version = Number(status.tableVersion ?? 0);
    if (previous && previous.version > version) return new PlacementTable(previous.version, previous.placements, members);
    const placements = new Map<string, Placement>();
    for (const a of status.assignments ?? []) placements.set(a.space, { primary: a.primary, replicas: [...(a.replicas ?? [])] });
    return new PlacementTable(version, placements, members);
  }

  /** Whether the table places `space` at all. */
  has(space: string): boolean {
    return this.placements.has(space);
  }

  /** The copies of `space` on members that can be called, primary first; empty when none (or the space is unknown). */
  copies(space: string): CopyHolder[] {
    const p = this.placements.get(space);
    if (!p) return [];
    const out: CopyHolder[] = [];
    const add = (node: string, role: CopyHolder['role']) => {
      const m = this.members.get(node);
      if (m) out.push({ node, address: m.address, role, state: m.state });
    };
    add(p.primary, 'primary');
    for (const r of p.replicas) if (r !== p.primary) add(r, 'replica');
    return out;
  }

  /** Addresses of every member that can be called (the channels worth keeping). */
  addresses(): Set<string> {
    return new Set([...this.members.values()].map((m) => m.address));
  }
}

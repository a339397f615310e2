/** What a node says of itself and of its cluster (the public `Status` call), as the client reads it. */

export interface SpaceStatus { id: string; dimension: number; memories: number; associations: number; logPosition: number; patterns: number }
export interface MemberStatus { id: string; grpcAddress: string; gossipAddress: string; state: 'alive' | 'suspect' | 'down' | 'left'; incarnation: number }
export interface AssignmentStatus { space: string; primary: string; replicas: string[]; dimension: number; version: number }
/** A node's copy of a space's Raft group (`status`); `peers` and their `matched` are filled on the leader. */
export interface SpaceGroupStatus {
  space: string;
  leader: string;
  term: number;
  role: string;
  voters: string[];
  learners: string[];
  commit: number;
  applied: number;
  peers: { node: string; kind: string; matched: number }[];
  /** SHA-256 of the copy's content: equal on two copies exactly when they applied the same entries. */
  digest: string;
  /** Index of the group's last snapshot here: its Raft log holds only the entries after it. */
  snapshotIndex: number;
}
/** The metadata group as one node sees it. */
export interface MetaStatus {
  clusterId: string;
  /** Node id of the metadata leader, empty when none is known. */
  leader: string;
  term: number;
  voters: string[];
  learners: string[];
  applied: number;
  commit: number;
  /** SHA-256 of the applied table: equal on two nodes exactly when their tables are. */
  digest: string;
  role: string;
}
export interface NodeStatus {
  nodeId: string;
  /** The data directory's storage id (a UUID); a wiped directory reports a new one. */
  storageId: string;
  version: string;
  uptimeS: number;
  grpcAddress: string;
  spaces: SpaceStatus[];
  /** Empty for a node without a cluster. */
  gossipAddress: string;
  members: MemberStatus[];
  tableVersion: number;
  assignments: AssignmentStatus[];
  /** This node's copy of every space group it holds. */
  groups: SpaceGroupStatus[];
  partitionState: 'connected' | 'partitioned' | 'healing';
  /** Null for a node without a cluster. */
  meta: MetaStatus | null;
}

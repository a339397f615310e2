// Raft groups (DESIGN §5): raft-rs in the addon, I/O-free; ticks, transport and disk here.
export { RaftHost, type RaftHostOptions, type RaftTransport, type RaftStateMachine } from './raft-host.js';
export { RaftStore, raftDir, groupDirName, type LoadedGroup, type RaftWarnFn } from './raft-store.js';
export { RaftError, RAFT_CODES, raftCall, type RaftCode } from './raft-errors.js';
export type * from './raft-native-types.js';

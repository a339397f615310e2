// The metadata group's state machine (DESIGN §5, issue 11): pure, deterministic, not yet wired
// into the node (docs/cluster.md, "Metadata state").
export { MetaState } from './meta-state.js';
export { encodeCommand, decodeCommand, readCommand, META_COMMAND_MAGIC, META_COMMAND_VERSION, MAX_META_COMMAND_BYTES } from './meta-command-codec.js';
export { encodeSnapshot, decodeSnapshot, META_SNAPSHOT_MAGIC, META_SNAPSHOT_VERSION } from './meta-snapshot.js';
export { MetaDecodeError, MetaVersionError, type MetaDecodeTarget } from './meta-errors.js';
export { NODE_ID_PATTERN, UUID_PATTERN, MAX_COPIES, MAX_REQUEST_ID_CHARS } from './meta-fields.js';
export {
  chooseVoters, voterToReplace, META_GROUP, DEFAULT_META_VOTERS, DEFAULT_REASSIGN_AFTER_MS,
  type VoterCandidate, type VoterInput, type VoterLossReason, type VoterReplacement,
} from './meta-voters.js';
export type * from './meta-types.js';

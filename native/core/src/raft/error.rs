//! Errors of the Raft host as values with stable codes (the binding puts the code on the JS Error).

use std::fmt;

/// Stable codes, one per thing a caller may want to tell apart.
pub mod code {
    /// An argument is out of range (id 0, a bad option, an unknown conf change kind).
    pub const INVALID: &str = "ERR_RAFT_INVALID";
    /// Bytes that should be a protobuf message, entry or snapshot metadata do not decode.
    pub const DECODE: &str = "ERR_RAFT_DECODE";
    /// `create`/`restore` of a group id already hosted.
    pub const GROUP_EXISTS: &str = "ERR_RAFT_GROUP_EXISTS";
    /// An operation names a group that is not hosted here.
    pub const NO_GROUP: &str = "ERR_RAFT_NO_GROUP";
    /// A proposal was not accepted: no known leader, a leader transfer in progress, or another
    /// conf change still pending. Retry later or elsewhere; nothing was appended.
    pub const PROPOSAL_DROPPED: &str = "ERR_RAFT_PROPOSAL_DROPPED";
    /// A message was refused: addressed to another node, a local-only type, or a response from
    /// a peer not in the configuration (normal after a removal). The group is unchanged.
    pub const STEP: &str = "ERR_RAFT_STEP";
    /// Restored state is inconsistent (a gap in the log, commit beyond the last entry, ...).
    pub const STORAGE: &str = "ERR_RAFT_STORAGE";
    /// `compact` at an index not yet applied, or already compacted.
    pub const COMPACT: &str = "ERR_RAFT_COMPACT";
    /// `advance` with a Ready number that was never handed out or is already advanced.
    pub const READY: &str = "ERR_RAFT_READY";
    /// raft-rs panicked inside this group (an invariant broken, e.g. by a forged message): the
    /// group is fenced off and every later call on it fails with this code. Remove it and
    /// restore it from disk; other groups are unaffected.
    pub const GROUP_FAILED: &str = "ERR_RAFT_GROUP_FAILED";
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftError {
    /// One of [`code`].
    pub code: &'static str,
    /// Names the group and the offending value.
    pub message: String,
}

impl RaftError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        RaftError { code, message: message.into() }
    }
}

impl fmt::Display for RaftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for RaftError {}

/// Maps raft-rs's error for an operation on `group` to our code.
pub(crate) fn from_raft(group: &str, what: &str, e: raft::Error) -> RaftError {
    let code = match &e {
        raft::Error::ProposalDropped => code::PROPOSAL_DROPPED,
        raft::Error::StepLocalMsg | raft::Error::StepPeerNotFound => code::STEP,
        raft::Error::ConfigInvalid(_) | raft::Error::Exists { .. } | raft::Error::NotExists { .. } | raft::Error::ConfChangeError(_) => code::INVALID,
        raft::Error::CodecError(_) => code::DECODE,
        raft::Error::Store(_) | raft::Error::Io(_) => code::STORAGE,
        raft::Error::RequestSnapshotDropped => code::PROPOSAL_DROPPED,
    };
    RaftError::new(code, format!("group {group:?}: {what}: {e}"))
}

pub type Result<T> = std::result::Result<T, RaftError>;

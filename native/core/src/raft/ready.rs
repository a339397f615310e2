//! A Ready as plain data: what the caller persists, sends and applies. Raft types that cross to
//! the caller only as opaque bytes (messages, entries, snapshot metadata) are protobuf-encoded
//! here; the rest are plain numbers.

use raft::eraftpb::{ConfChangeType, ConfChangeV2, ConfState, Entry, EntryType, HardState, Snapshot, SnapshotMetadata};
use raft::{ReadState, StateRole};
use raft_proto::ConfChangeI;

use super::error::{code, RaftError};

/// A raft message for peer `to`, protobuf-encoded: hand it to that peer's `step`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutMessage {
    pub to: u64,
    pub bytes: Vec<u8>,
    /// A snapshot message: the transport reports its outcome with `report_snapshot` (the
    /// leader holds the peer until told) and may stream it in chunks.
    pub is_snapshot: bool,
}

/// An entry to persist; `bytes` is the encoded raft `Entry`, handed back as is at restore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistEntry {
    pub index: u64,
    pub term: u64,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardStateOut {
    pub term: u64,
    pub vote: u64,
    pub commit: u64,
}

impl From<&HardState> for HardStateOut {
    fn from(hs: &HardState) -> Self {
        HardStateOut { term: hs.term, vote: hs.vote, commit: hs.commit }
    }
}

impl HardStateOut {
    pub fn to_raft(self) -> HardState {
        let mut hs = HardState::default();
        hs.term = self.term;
        hs.vote = self.vote;
        hs.commit = self.commit;
        hs
    }
}

/// A configuration. `voters_outgoing` is non-empty only in a joint configuration (a change of
/// several members at once, left automatically once applied).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfStateOut {
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    pub voters_outgoing: Vec<u64>,
    pub learners_next: Vec<u64>,
    pub auto_leave: bool,
}

impl From<&ConfState> for ConfStateOut {
    fn from(cs: &ConfState) -> Self {
        ConfStateOut {
            voters: cs.voters.clone(),
            learners: cs.learners.clone(),
            voters_outgoing: cs.voters_outgoing.clone(),
            learners_next: cs.learners_next.clone(),
            auto_leave: cs.auto_leave,
        }
    }
}

/// A snapshot to persist: `metadata` is the encoded raft `SnapshotMetadata` (index, term and
/// configuration), handed back as is at restore; `data` is the application's state at `index`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotOut {
    pub index: u64,
    pub term: u64,
    pub conf_state: ConfStateOut,
    pub metadata: Vec<u8>,
    pub data: Vec<u8>,
}

impl SnapshotOut {
    pub(crate) fn new(meta: &SnapshotMetadata, data: &[u8]) -> Result<Self, RaftError> {
        Ok(SnapshotOut {
            index: meta.index,
            term: meta.term,
            conf_state: ConfStateOut::from(meta.get_conf_state()),
            metadata: encode(meta)?,
            data: data.to_vec(),
        })
    }

    pub(crate) fn from_raft(snapshot: &Snapshot) -> Result<Self, RaftError> {
        Self::new(snapshot.get_metadata(), &snapshot.data)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfChangeKind {
    AddVoter,
    AddLearner,
    Remove,
}

impl ConfChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfChangeKind::AddVoter => "addVoter",
            ConfChangeKind::AddLearner => "addLearner",
            ConfChangeKind::Remove => "remove",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "addVoter" => Some(ConfChangeKind::AddVoter),
            "addLearner" => Some(ConfChangeKind::AddLearner),
            "remove" => Some(ConfChangeKind::Remove),
            _ => None,
        }
    }

    pub(crate) fn to_raft(self) -> ConfChangeType {
        match self {
            ConfChangeKind::AddVoter => ConfChangeType::AddNode,
            ConfChangeKind::AddLearner => ConfChangeType::AddLearnerNode,
            ConfChangeKind::Remove => ConfChangeType::RemoveNode,
        }
    }

    fn from_raft(t: ConfChangeType) -> Self {
        match t {
            ConfChangeType::AddNode => ConfChangeKind::AddVoter,
            ConfChangeType::AddLearnerNode => ConfChangeKind::AddLearner,
            ConfChangeType::RemoveNode => ConfChangeKind::Remove,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfChangeOut {
    pub kind: ConfChangeKind,
    pub node: u64,
}

/// A committed entry to apply, in log order. Entries with empty `data` (a new leader's no-op,
/// the automatic leave of a joint configuration) still take an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedEntry {
    pub index: u64,
    pub term: u64,
    /// True for a membership change; it has already been applied to the group when handed out.
    pub is_conf_change: bool,
    pub data: Vec<u8>,
    pub context: Vec<u8>,
    /// For a conf change: what it changed (empty for the leave of a joint configuration).
    pub changes: Vec<ConfChangeOut>,
    /// For a conf change: the configuration after it, or None when raft-rs refused it (then
    /// `conf_change_error` says why and every member refuses it alike).
    pub conf_state: Option<ConfStateOut>,
    pub conf_change_error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "preCandidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

impl From<StateRole> for Role {
    fn from(r: StateRole) -> Self {
        match r {
            StateRole::Follower => Role::Follower,
            StateRole::PreCandidate => Role::PreCandidate,
            StateRole::Candidate => Role::Candidate,
            StateRole::Leader => Role::Leader,
        }
    }
}

/// Who leads (0 = unknown) and this node's role, as of the Ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftStateOut {
    pub leader_id: u64,
    pub role: Role,
    pub term: u64,
}

/// A read index answer: reads for `context` are linearizable once `index` is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadStateOut {
    pub index: u64,
    pub context: Vec<u8>,
}

impl From<ReadState> for ReadStateOut {
    fn from(rs: ReadState) -> Self {
        ReadStateOut { index: rs.index, context: rs.request_ctx }
    }
}

/// Handle in this order: persist `snapshot`, `entries`, `hard_state` and sync them; send
/// `messages`; apply `snapshot` then `committed` to the state machine; serve `read_states`;
/// then `advance(number)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadyOut {
    /// Hand back to `advance` once handled.
    pub number: u64,
    pub messages: Vec<OutMessage>,
    /// Replace every persisted entry from `entries[0].index` on with these.
    pub entries: Vec<PersistEntry>,
    pub hard_state: Option<HardStateOut>,
    /// From the leader: replaces the log and the state machine.
    pub snapshot: Option<SnapshotOut>,
    pub committed: Vec<CommittedEntry>,
    /// Set when leader, role or term changed.
    pub soft_state: Option<SoftStateOut>,
    pub read_states: Vec<ReadStateOut>,
    /// Whether raft-rs requires the write to be synced (it always is here; for callers that batch).
    pub must_sync: bool,
}

pub(crate) fn encode<M: protobuf::Message>(m: &M) -> Result<Vec<u8>, RaftError> {
    m.write_to_bytes().map_err(|e| RaftError::new(code::DECODE, format!("cannot encode: {e}")))
}

pub(crate) fn decode<M: protobuf::Message>(what: &str, bytes: &[u8]) -> Result<M, RaftError> {
    M::parse_from_bytes(bytes).map_err(|e| RaftError::new(code::DECODE, format!("{what} does not decode: {e}")))
}

pub(crate) fn persist_entry(e: &Entry) -> Result<PersistEntry, RaftError> {
    Ok(PersistEntry { index: e.index, term: e.term, bytes: encode(e)? })
}

/// A committed entry for the caller; conf changes are decoded to their V2 form.
pub(crate) fn committed_entry(e: &Entry) -> Result<(CommittedEntry, Option<ConfChangeV2>), RaftError> {
    let mut out = CommittedEntry {
        index: e.index,
        term: e.term,
        is_conf_change: false,
        data: e.data.to_vec(),
        context: e.context.to_vec(),
        changes: Vec::new(),
        conf_state: None,
        conf_change_error: None,
    };
    let cc = match e.get_entry_type() {
        EntryType::EntryNormal => return Ok((out, None)),
        EntryType::EntryConfChange => {
            let v1: raft::eraftpb::ConfChange = decode("conf change entry", &e.data)?;
            v1.as_v2().into_owned()
        }
        EntryType::EntryConfChangeV2 => decode::<ConfChangeV2>("conf change entry", &e.data)?,
    };
    out.is_conf_change = true;
    out.changes = cc.changes.iter().map(|c| ConfChangeOut { kind: ConfChangeKind::from_raft(c.get_change_type()), node: c.node_id }).collect();
    Ok((out, Some(cc)))
}

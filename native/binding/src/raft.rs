//! `RaftGroups`: a thin class over `engram_core::raft::RaftGroups`. JS owns ticks, transport and
//! disk (src/raft/); this converts values and maps errors to JS Errors whose `code` is one of
//! `engram_core::raft::code`.
//!
//! Ids, terms and indexes cross as numbers: they stay far below 2^53, and a value that is not a
//! non-negative safe integer is refused with ERR_RAFT_INVALID instead of being rounded.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use engram_core::raft::{
    self as core, code, ConfChangeKind, ConfChangeOut, ConfStateOut, GroupOptions, HardStateOut, RaftError, ReadyOut, RestoreState, SnapshotOut,
};

fn err(e: RaftError) -> Error<&'static str> {
    Error::new(e.code, e.message)
}

fn invalid(message: String) -> Error<&'static str> {
    Error::new(code::INVALID, message)
}

const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

fn u64_of(name: &str, v: f64) -> Result<u64, &'static str> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= MAX_SAFE {
        Ok(v as u64)
    } else {
        Err(invalid(format!("{name} must be a non-negative safe integer (got {v})")))
    }
}

fn ids(name: &str, vs: &[f64]) -> Result<Vec<u64>, &'static str> {
    vs.iter().enumerate().map(|(i, &v)| u64_of(&format!("{name}[{i}]"), v)).collect()
}

fn buf(v: Vec<u8>) -> Buffer {
    Buffer::from(v)
}

/// Per-group timing and flow control; every field optional (defaults in `engram_core::raft`).
#[napi(object, object_to_js = false)]
pub struct RaftGroupOptions {
    /// Ticks without a leader before a campaign (randomized in [n, 2n)); default 10.
    pub election_ticks: Option<f64>,
    /// Ticks between heartbeats; default 2.
    pub heartbeat_ticks: Option<f64>,
    /// Largest append message, bytes; default 1 MiB.
    pub max_size_per_msg_bytes: Option<f64>,
    /// Appends in flight per follower; default 256.
    pub max_inflight_msgs: Option<f64>,
    /// Default true.
    pub check_quorum: Option<bool>,
    /// Default true.
    pub pre_vote: Option<bool>,
}

/// Taken as numbers and checked here: napi's u32 conversion would wrap -1 to 4294967295.
fn u32_of(name: &str, v: Option<f64>, default: u32) -> Result<u32, &'static str> {
    match v {
        None => Ok(default),
        Some(v) => u32::try_from(u64_of(name, v)?).map_err(|_| invalid(format!("{name} must be at most 4294967295 (got {v})"))),
    }
}

fn options(o: Option<RaftGroupOptions>) -> Result<GroupOptions, &'static str> {
    let d = GroupOptions::default();
    let Some(o) = o else { return Ok(d) };
    Ok(GroupOptions {
        election_ticks: u32_of("electionTicks", o.election_ticks, d.election_ticks)?,
        heartbeat_ticks: u32_of("heartbeatTicks", o.heartbeat_ticks, d.heartbeat_ticks)?,
        max_size_per_msg_bytes: match o.max_size_per_msg_bytes {
            Some(v) => u64_of("maxSizePerMsgBytes", v)?,
            None => d.max_size_per_msg_bytes,
        },
        max_inflight_msgs: u32_of("maxInflightMsgs", o.max_inflight_msgs, d.max_inflight_msgs)?,
        check_quorum: o.check_quorum.unwrap_or(d.check_quorum),
        pre_vote: o.pre_vote.unwrap_or(d.pre_vote),
    })
}

#[napi(object)]
pub struct RaftHardState {
    pub term: f64,
    pub vote: f64,
    pub commit: f64,
}

fn hard_state_out(hs: HardStateOut) -> RaftHardState {
    RaftHardState { term: hs.term as f64, vote: hs.vote as f64, commit: hs.commit as f64 }
}

#[napi(object, object_from_js = false)]
pub struct RaftConfState {
    pub voters: Vec<f64>,
    pub learners: Vec<f64>,
    /// Non-empty only in a joint configuration.
    pub voters_outgoing: Vec<f64>,
    pub learners_next: Vec<f64>,
    pub auto_leave: bool,
}

fn f64s(v: &[u64]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn conf_state_out(cs: &ConfStateOut) -> RaftConfState {
    RaftConfState {
        voters: f64s(&cs.voters),
        learners: f64s(&cs.learners),
        voters_outgoing: f64s(&cs.voters_outgoing),
        learners_next: f64s(&cs.learners_next),
        auto_leave: cs.auto_leave,
    }
}

/// An entry to persist: `data` is the encoded raft entry, handed back as is to `restore`.
#[napi(object, object_from_js = false)]
pub struct RaftPersistEntry {
    pub index: f64,
    pub term: f64,
    pub data: Buffer,
}

/// A snapshot to persist: `metadata` (encoded raft SnapshotMetadata) and `data` go back to `restore`.
#[napi(object, object_from_js = false)]
pub struct RaftSnapshot {
    pub index: f64,
    pub term: f64,
    pub conf_state: RaftConfState,
    pub metadata: Buffer,
    pub data: Buffer,
}

fn snapshot_out(s: SnapshotOut) -> RaftSnapshot {
    RaftSnapshot { index: s.index as f64, term: s.term as f64, conf_state: conf_state_out(&s.conf_state), metadata: buf(s.metadata), data: buf(s.data) }
}

#[napi(object, object_from_js = false)]
pub struct RaftBootstrap {
    pub entries: Vec<RaftPersistEntry>,
    pub hard_state: RaftHardState,
}

#[napi(object)]
pub struct RaftConfChange {
    /// `addVoter` (also promotes a learner), `addLearner` or `remove`.
    pub kind: String,
    pub node: f64,
}

#[napi(object, object_from_js = false)]
pub struct RaftCommittedEntry {
    pub index: f64,
    pub term: f64,
    /// A membership change (already applied to the group when handed out).
    pub conf_change: bool,
    pub data: Buffer,
    pub context: Buffer,
    pub changes: Vec<RaftConfChange>,
    /// The configuration after a conf change; absent when raft refused it (see confChangeError).
    pub conf_state: Option<RaftConfState>,
    pub conf_change_error: Option<String>,
}

#[napi(object, object_from_js = false)]
pub struct RaftOutMessage {
    pub to: f64,
    pub data: Buffer,
    /// Report its outcome with `reportSnapshot`: the leader holds the peer until told.
    pub snapshot: bool,
}

#[napi(object, object_from_js = false)]
pub struct RaftSoftState {
    /// 0 when unknown.
    pub leader_id: f64,
    /// `follower`, `preCandidate`, `candidate` or `leader`.
    pub role: String,
    pub term: f64,
}

#[napi(object, object_from_js = false)]
pub struct RaftReadState {
    pub index: f64,
    pub context: Buffer,
}

/// One Ready; handle in order: persist snapshot + entries + hardState and fsync, send messages,
/// apply snapshot then committed, answer readStates, then `advance(group, number)`.
#[napi(object, object_from_js = false)]
pub struct RaftReady {
    pub number: f64,
    pub messages: Vec<RaftOutMessage>,
    pub entries: Vec<RaftPersistEntry>,
    pub hard_state: Option<RaftHardState>,
    pub snapshot: Option<RaftSnapshot>,
    pub committed: Vec<RaftCommittedEntry>,
    pub soft_state: Option<RaftSoftState>,
    pub read_states: Vec<RaftReadState>,
    pub must_sync: bool,
}

fn ready_out(rd: ReadyOut) -> RaftReady {
    RaftReady {
        number: rd.number as f64,
        messages: rd.messages.into_iter().map(|m| RaftOutMessage { to: m.to as f64, data: buf(m.bytes), snapshot: m.is_snapshot }).collect(),
        entries: rd.entries.into_iter().map(|e| RaftPersistEntry { index: e.index as f64, term: e.term as f64, data: buf(e.bytes) }).collect(),
        hard_state: rd.hard_state.map(hard_state_out),
        snapshot: rd.snapshot.map(snapshot_out),
        committed: rd
            .committed
            .into_iter()
            .map(|c| RaftCommittedEntry {
                index: c.index as f64,
                term: c.term as f64,
                conf_change: c.is_conf_change,
                data: buf(c.data),
                context: buf(c.context),
                changes: c.changes.iter().map(|ch| RaftConfChange { kind: ch.kind.as_str().to_owned(), node: ch.node as f64 }).collect(),
                conf_state: c.conf_state.as_ref().map(conf_state_out),
                conf_change_error: c.conf_change_error,
            })
            .collect(),
        soft_state: rd.soft_state.map(|s| RaftSoftState { leader_id: s.leader_id as f64, role: s.role.as_str().to_owned(), term: s.term as f64 }),
        read_states: rd.read_states.into_iter().map(|r| RaftReadState { index: r.index as f64, context: buf(r.context) }).collect(),
        must_sync: rd.must_sync,
    }
}

#[napi(object, object_to_js = false)]
pub struct RaftSnapshotIn {
    pub metadata: Uint8Array,
    pub data: Uint8Array,
}

/// A group's persisted state as read back from disk.
#[napi(object, object_to_js = false)]
pub struct RaftRestoreState {
    pub hard_state: RaftHardState,
    pub snapshot: Option<RaftSnapshotIn>,
    /// Encoded entries (`RaftPersistEntry.data`) after the snapshot, in order.
    pub entries: Vec<Uint8Array>,
}

#[napi(object, object_from_js = false)]
pub struct RaftStatus {
    pub id: f64,
    pub term: f64,
    pub vote: f64,
    pub commit: f64,
    pub applied: f64,
    pub leader_id: f64,
    pub role: String,
    pub first_index: f64,
    pub last_index: f64,
    pub snapshot_index: f64,
    pub conf_state: RaftConfState,
    /// On the leader: each peer's highest replicated index. Empty elsewhere.
    pub progress: Vec<RaftProgress>,
}

#[napi(object, object_from_js = false)]
pub struct RaftProgress {
    pub id: f64,
    pub matched: f64,
}

#[napi]
pub struct RaftGroups {
    inner: core::RaftGroups,
}

#[napi]
impl RaftGroups {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        RaftGroups { inner: core::RaftGroups::new() }
    }

    /// A new group: bootstraps it with `voters`/`learners` (persist the returned entries and
    /// hard state before handling a Ready), or with both empty joins an existing one (null).
    #[napi]
    pub fn create(&mut self, group: String, id: f64, voters: Vec<f64>, learners: Vec<f64>, options: Option<RaftGroupOptions>) -> Result<Option<RaftBootstrap>, &'static str> {
        let id = u64_of("id", id)?;
        let (voters, learners) = (ids("voters", &voters)?, ids("learners", &learners)?);
        let boot = self.inner.create(&group, id, &voters, &learners, &self::options(options)?).map_err(err)?;
        Ok(boot.map(|b| RaftBootstrap {
            entries: b.entries.into_iter().map(|e| RaftPersistEntry { index: e.index as f64, term: e.term as f64, data: buf(e.bytes) }).collect(),
            hard_state: hard_state_out(b.hard_state),
        }))
    }

    /// A group from its persisted state; its first Readies hand the committed entries out again.
    #[napi]
    pub fn restore(&mut self, group: String, id: f64, state: RaftRestoreState, options: Option<RaftGroupOptions>) -> Result<(), &'static str> {
        let id = u64_of("id", id)?;
        let hs = &state.hard_state;
        let hard_state = HardStateOut { term: u64_of("hardState.term", hs.term)?, vote: u64_of("hardState.vote", hs.vote)?, commit: u64_of("hardState.commit", hs.commit)? };
        let restore = RestoreState {
            hard_state,
            snapshot: state.snapshot.map(|s| (s.metadata.to_vec(), s.data.to_vec())),
            entries: state.entries.iter().map(|e| e.to_vec()).collect(),
        };
        self.inner.restore(&group, id, restore, &self::options(options)?).map_err(err)
    }

    /// Drops a group from memory; false if it was not hosted.
    #[napi]
    pub fn remove(&mut self, group: String) -> bool {
        self.inner.remove(&group)
    }

    #[napi]
    pub fn has(&self, group: String) -> bool {
        self.inner.has(&group)
    }

    /// Hosted group ids, sorted.
    #[napi]
    pub fn groups(&self) -> Vec<String> {
        self.inner.group_ids()
    }

    /// One tick of every group; returns the groups that failed during it.
    #[napi]
    pub fn tick(&mut self) -> Vec<String> {
        self.inner.tick()
    }

    #[napi]
    pub fn tick_group(&mut self, group: String) -> Result<(), &'static str> {
        self.inner.tick_group(&group).map_err(err)
    }

    /// Groups with a Ready to take, sorted.
    #[napi]
    pub fn ready_groups(&self) -> Vec<String> {
        self.inner.ready_groups()
    }

    #[napi]
    pub fn propose(&mut self, group: String, data: Uint8Array, context: Option<Uint8Array>) -> Result<(), &'static str> {
        self.inner.propose(&group, data.to_vec(), context.map(|c| c.to_vec()).unwrap_or_default()).map_err(err)
    }

    #[napi]
    pub fn propose_conf_change(&mut self, group: String, changes: Vec<RaftConfChange>, context: Option<Uint8Array>) -> Result<(), &'static str> {
        let changes = changes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let kind = ConfChangeKind::parse(&c.kind).ok_or_else(|| invalid(format!("changes[{i}].kind must be addVoter, addLearner or remove (got {:?})", c.kind)))?;
                Ok(ConfChangeOut { kind, node: u64_of(&format!("changes[{i}].node"), c.node)? })
            })
            .collect::<Result<Vec<_>, &'static str>>()?;
        self.inner.propose_conf_change(&group, &changes, context.map(|c| c.to_vec()).unwrap_or_default()).map_err(err)
    }

    /// One received raft message (`RaftOutMessage.data` from a peer).
    #[napi]
    pub fn step(&mut self, group: String, message: Uint8Array) -> Result<(), &'static str> {
        self.inner.step(&group, &message).map_err(err)
    }

    #[napi]
    pub fn campaign(&mut self, group: String) -> Result<(), &'static str> {
        self.inner.campaign(&group).map_err(err)
    }

    #[napi]
    pub fn transfer_leader(&mut self, group: String, to: f64) -> Result<(), &'static str> {
        let to = u64_of("to", to)?;
        self.inner.transfer_leader(&group, to).map_err(err)
    }

    /// The answer comes as a `readStates` item with the same context in a later Ready.
    #[napi]
    pub fn read_index(&mut self, group: String, context: Uint8Array) -> Result<(), &'static str> {
        self.inner.read_index(&group, context.to_vec()).map_err(err)
    }

    #[napi]
    pub fn report_unreachable(&mut self, group: String, peer: f64) -> Result<(), &'static str> {
        let peer = u64_of("peer", peer)?;
        self.inner.report_unreachable(&group, peer).map_err(err)
    }

    /// Tell the leader whether a snapshot message to `peer` was delivered; it waits until told.
    #[napi]
    pub fn report_snapshot(&mut self, group: String, peer: f64, delivered: bool) -> Result<(), &'static str> {
        let peer = u64_of("peer", peer)?;
        self.inner.report_snapshot(&group, peer, delivered).map_err(err)
    }

    /// The group's next Ready, or null.
    #[napi]
    pub fn take_ready(&mut self, group: String) -> Result<Option<RaftReady>, &'static str> {
        Ok(self.inner.take_ready(&group).map_err(err)?.map(ready_out))
    }

    /// Ready `number` (and every earlier one) is persisted, sent and applied.
    #[napi]
    pub fn advance(&mut self, group: String, number: f64) -> Result<(), &'static str> {
        let number = u64_of("number", number)?;
        self.inner.advance(&group, number).map_err(err)
    }

    /// Makes `data` (the state machine at applied `index`) the group's snapshot and drops the
    /// log up to `index`; persist the returned snapshot, then drop persisted entries up to it.
    #[napi]
    pub fn compact(&mut self, group: String, index: f64, data: Uint8Array) -> Result<RaftSnapshot, &'static str> {
        let index = u64_of("index", index)?;
        self.inner.compact(&group, index, data.to_vec()).map(snapshot_out).map_err(err)
    }

    #[napi]
    pub fn status(&mut self, group: String) -> Result<RaftStatus, &'static str> {
        let s = self.inner.status(&group).map_err(err)?;
        Ok(RaftStatus {
            id: s.id as f64,
            term: s.term as f64,
            vote: s.vote as f64,
            commit: s.commit as f64,
            applied: s.applied as f64,
            leader_id: s.leader_id as f64,
            role: s.role.as_str().to_owned(),
            first_index: s.first_index as f64,
            last_index: s.last_index as f64,
            snapshot_index: s.snapshot_index as f64,
            conf_state: conf_state_out(&s.conf_state),
            progress: s.progress.iter().map(|&(id, matched)| RaftProgress { id: id as f64, matched: matched as f64 }).collect(),
        })
    }
}

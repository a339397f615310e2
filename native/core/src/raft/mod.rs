//! Many Raft groups on one node (DESIGN §5): raft-rs `RawNode`s keyed by a group id, with no I/O.
//!
//! The caller owns the clock (`tick`), the transport (sends each Ready's messages, `step`s the
//! ones it receives) and the disk (persists each Ready, restores groups at start). A Ready is
//! taken with raft-rs's asynchronous-ready API (`advance_append_async` at once, then
//! `on_persist_ready` when the caller reports it durable through `advance`), so messages may be
//! stepped and proposals made while the caller's fsync is in flight.
//!
//! Conf change entries are applied to the group when their Ready is taken (the entries were
//! already persisted; raft-rs only hands out committed entries it has persisted), so a caller
//! cannot forget to; the committed entry carries the resulting configuration.
//!
//! raft-rs panics when an invariant breaks (a forged message can do that). Every call into it is
//! wrapped: a panic fences off that one group (`ERR_RAFT_GROUP_FAILED` from then on) instead of
//! unwinding into JS or taking the other groups with it.

mod error;
mod ready;
mod storage;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod proptests;

use std::collections::{BTreeMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};

use raft::eraftpb::{ConfChange, ConfChangeSingle, ConfChangeType, ConfChangeV2, ConfState, Entry, EntryType, Message, Snapshot, SnapshotMetadata};
use raft::{Config, RawNode, SnapshotStatus, StateRole};

pub use error::{code, RaftError, Result};
pub use ready::{
    CommittedEntry, ConfChangeKind, ConfChangeOut, ConfStateOut, HardStateOut, OutMessage, PersistEntry, ReadStateOut, ReadyOut, Role,
    SnapshotOut, SoftStateOut,
};
pub use storage::GroupStorage;

use error::from_raft;
use ready::{committed_entry, decode, encode, persist_entry};

/// Timing and flow control of one group. Ticks are whatever period the caller ticks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupOptions {
    /// Ticks without a leader before a follower campaigns (randomized in [n, 2n)); > heartbeat.
    pub election_ticks: u32,
    /// Ticks between a leader's heartbeats; > 0.
    pub heartbeat_ticks: u32,
    /// Largest append message, bytes (at least one entry is always sent).
    pub max_size_per_msg_bytes: u64,
    /// Appends in flight to one follower before waiting for acknowledgements; > 0.
    pub max_inflight_msgs: u32,
    /// A leader that has not heard from a majority for an election timeout steps down, so a
    /// partitioned leader stops answering as one.
    pub check_quorum: bool,
    /// A node cut off and back does not depose a healthy leader by bumping the term.
    pub pre_vote: bool,
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions { election_ticks: 10, heartbeat_ticks: 2, max_size_per_msg_bytes: 1 << 20, max_inflight_msgs: 256, check_quorum: true, pre_vote: true }
    }
}

impl GroupOptions {
    fn to_config(&self, group: &str, id: u64, applied: u64) -> Result<Config> {
        let invalid = |m: String| RaftError::new(code::INVALID, format!("group {group:?}: {m}"));
        if id == 0 {
            return Err(invalid("node id must be > 0".into()));
        }
        if self.heartbeat_ticks == 0 {
            return Err(invalid("heartbeatTicks must be > 0 (got 0)".into()));
        }
        if self.election_ticks <= self.heartbeat_ticks {
            return Err(invalid(format!("electionTicks ({}) must be above heartbeatTicks ({})", self.election_ticks, self.heartbeat_ticks)));
        }
        if self.max_inflight_msgs == 0 {
            return Err(invalid("maxInflightMsgs must be > 0 (got 0)".into()));
        }
        let config = Config {
            id,
            election_tick: self.election_ticks as usize,
            heartbeat_tick: self.heartbeat_ticks as usize,
            applied,
            max_size_per_msg: self.max_size_per_msg_bytes,
            max_inflight_msgs: self.max_inflight_msgs as usize,
            check_quorum: self.check_quorum,
            pre_vote: self.pre_vote,
            ..Config::default()
        };
        config.validate().map_err(|e| from_raft(group, "options", e))?;
        Ok(config)
    }
}

/// Persisted state of a group, as the caller read it back from disk.
#[derive(Clone, Debug, Default)]
pub struct RestoreState {
    pub hard_state: HardStateOut,
    /// Encoded `SnapshotMetadata` and data of the last persisted snapshot, if any.
    pub snapshot: Option<(Vec<u8>, Vec<u8>)>,
    /// Encoded entries after the snapshot, in order (entries at or below it are skipped).
    pub entries: Vec<Vec<u8>>,
}

/// What a bootstrapping node persists before handling any Ready of the new group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bootstrap {
    pub entries: Vec<PersistEntry>,
    pub hard_state: HardStateOut,
}

/// What `status` reports of one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupStatus {
    pub id: u64,
    pub term: u64,
    pub vote: u64,
    pub commit: u64,
    pub applied: u64,
    pub leader_id: u64,
    pub role: Role,
    pub first_index: u64,
    pub last_index: u64,
    pub snapshot_index: u64,
    pub conf_state: ConfStateOut,
    /// On the leader: (peer id, highest index known replicated there), by id. Empty elsewhere
    /// (a follower's progress table is stale). Lets the caller promote only caught-up learners.
    pub progress: Vec<(u64, u64)>,
}

struct Group {
    node: RawNode<GroupStorage>,
    /// Configuration after each conf change applied since the last snapshot, by entry index:
    /// `compact` needs the configuration as of its index.
    conf_history: Vec<(u64, ConfState)>,
    /// Readies handed out and not yet advanced: (number, last index applied by handling it).
    in_flight: VecDeque<(u64, u64)>,
    /// Why raft-rs panicked in this group; set once, never cleared.
    failed: Option<String>,
}

/// Many groups on one node; see the module documentation for the contract.
pub struct RaftGroups {
    groups: BTreeMap<String, Group>,
    logger: slog::Logger,
}

impl Default for RaftGroups {
    fn default() -> Self {
        Self::new()
    }
}

fn no_group(group: &str) -> RaftError {
    RaftError::new(code::NO_GROUP, format!("no raft group {group:?} on this node"))
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "raft-rs panicked".to_owned())
}

impl RaftGroups {
    pub fn new() -> Self {
        // raft-rs logs through slog; nothing here reads those logs, so they go nowhere.
        RaftGroups { groups: BTreeMap::new(), logger: slog::Logger::root(slog::Discard, slog::o!()) }
    }

    /// A new group. With voters (and learners), this node bootstraps it: like etcd's bootstrap,
    /// the initial configuration is the first entries of the log (one conf change per member,
    /// term 1, committed), identical on every bootstrapping node, so a node that joins later
    /// learns it from the log like any other change. Persist the returned entries and hard state
    /// before handling any Ready. With no voters the node joins an existing group and waits for
    /// its leader (returns None).
    pub fn create(&mut self, group: &str, id: u64, voters: &[u64], learners: &[u64], options: &GroupOptions) -> Result<Option<Bootstrap>> {
        if voters.iter().chain(learners).any(|&n| n == 0) {
            return Err(RaftError::new(code::INVALID, format!("group {group:?}: node ids must be > 0")));
        }
        if voters.is_empty() && !learners.is_empty() {
            return Err(RaftError::new(code::INVALID, format!("group {group:?}: a group bootstrapped with learners needs voters")));
        }
        let members = voters.iter().map(|&n| (n, ConfChangeType::AddNode)).chain(learners.iter().map(|&n| (n, ConfChangeType::AddLearnerNode)));
        let mut entries = Vec::new();
        for (i, (node, kind)) in members.enumerate() {
            let mut cc = ConfChange::default();
            cc.set_change_type(kind);
            cc.node_id = node;
            let mut e = Entry::default();
            e.set_entry_type(EntryType::EntryConfChange);
            e.term = 1;
            e.index = i as u64 + 1;
            e.data = encode(&cc)?.into();
            entries.push(e);
        }
        let mut hs = raft::eraftpb::HardState::default();
        if !entries.is_empty() {
            hs.term = 1;
            hs.commit = entries.len() as u64;
        }
        // raft-rs starts from this configuration; the entries are applied again (a no-op) when
        // the first Readies hand them out as committed.
        let mut meta = SnapshotMetadata::default();
        meta.set_conf_state(ConfState::from((voters.iter().copied(), learners.iter().copied())));
        let mut snapshot = Snapshot::default();
        snapshot.set_metadata(meta);
        let mut storage = GroupStorage::restore(group, hs.clone(), snapshot, entries.clone())?;
        storage.forget_snapshot_conf_state();
        self.insert(group, id, storage, options)?;
        if voters.is_empty() {
            return Ok(None);
        }
        Ok(Some(Bootstrap { entries: entries.iter().map(persist_entry).collect::<Result<_>>()?, hard_state: (&hs).into() }))
    }

    /// A group from its persisted state. Committed entries after the snapshot are handed out
    /// again by the first Readies (the state machine is rebuilt from the snapshot and the log).
    pub fn restore(&mut self, group: &str, id: u64, state: RestoreState, options: &GroupOptions) -> Result<()> {
        let mut snapshot = Snapshot::default();
        if let Some((meta, data)) = state.snapshot {
            snapshot.set_metadata(decode(&format!("group {group:?}: snapshot metadata"), &meta)?);
            snapshot.data = data.into();
        }
        let entries = state
            .entries
            .iter()
            .enumerate()
            .map(|(i, bytes)| decode::<Entry>(&format!("group {group:?}: entry {i}"), bytes))
            .collect::<Result<Vec<_>>>()?;
        let storage = GroupStorage::restore(group, state.hard_state.to_raft(), snapshot, entries)?;
        self.insert(group, id, storage, options)
    }

    fn insert(&mut self, group: &str, id: u64, storage: GroupStorage, options: &GroupOptions) -> Result<()> {
        if self.groups.contains_key(group) {
            return Err(RaftError::new(code::GROUP_EXISTS, format!("raft group {group:?} already exists on this node")));
        }
        let applied = storage.snapshot_meta().index;
        let config = options.to_config(group, id, applied)?;
        let logger = self.logger.new(slog::o!("group" => group.to_owned()));
        let node = catch_unwind(AssertUnwindSafe(|| RawNode::new(&config, storage, &logger)))
            .map_err(|p| RaftError::new(code::STORAGE, format!("group {group:?}: raft-rs refused the restored state: {}", panic_message(p))))?
            .map_err(|e| from_raft(group, "create", e))?;
        self.groups.insert(group.to_owned(), Group { node, conf_history: Vec::new(), in_flight: VecDeque::new(), failed: None });
        Ok(())
    }

    /// Drops a group from memory (its files are the caller's).
    pub fn remove(&mut self, group: &str) -> bool {
        self.groups.remove(group).is_some()
    }

    pub fn has(&self, group: &str) -> bool {
        self.groups.contains_key(group)
    }

    /// Ids of the hosted groups, sorted.
    pub fn group_ids(&self) -> Vec<String> {
        self.groups.keys().cloned().collect()
    }

    /// Runs `f` on a group, fencing the group off if raft-rs panics inside.
    fn with<T>(&mut self, group: &str, f: impl FnOnce(&mut Group) -> Result<T>) -> Result<T> {
        let g = self.groups.get_mut(group).ok_or_else(|| no_group(group))?;
        if let Some(why) = &g.failed {
            return Err(RaftError::new(code::GROUP_FAILED, format!("group {group:?} failed earlier ({why}); remove and restore it")));
        }
        match catch_unwind(AssertUnwindSafe(|| f(g))) {
            Ok(result) => result,
            Err(panic) => {
                let why = panic_message(panic);
                g.failed = Some(why.clone());
                Err(RaftError::new(code::GROUP_FAILED, format!("group {group:?}: raft-rs panicked ({why}); remove and restore it")))
            }
        }
    }

    /// One tick of every group. Returns the groups that failed during it (see `GROUP_FAILED`).
    pub fn tick(&mut self) -> Vec<String> {
        let mut failed = Vec::new();
        for (id, g) in self.groups.iter_mut().filter(|(_, g)| g.failed.is_none()) {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| g.node.tick())) {
                g.failed = Some(panic_message(panic));
                failed.push(id.clone());
            }
        }
        failed
    }

    /// One tick of one group.
    pub fn tick_group(&mut self, group: &str) -> Result<()> {
        self.with(group, |g| {
            g.node.tick();
            Ok(())
        })
    }

    /// Groups with a Ready to take, sorted.
    pub fn ready_groups(&self) -> Vec<String> {
        self.groups.iter().filter(|(_, g)| g.failed.is_none() && g.node.has_ready()).map(|(id, _)| id.clone()).collect()
    }

    pub fn propose(&mut self, group: &str, data: Vec<u8>, context: Vec<u8>) -> Result<()> {
        self.with(group, |g| g.node.propose(context, data).map_err(|e| from_raft(group, "propose", e)))
    }

    /// Proposes a membership change: one change applies directly, several go through a joint
    /// configuration that is left automatically. Promote a learner with `AddVoter`.
    pub fn propose_conf_change(&mut self, group: &str, changes: &[ConfChangeOut], context: Vec<u8>) -> Result<()> {
        if changes.is_empty() || changes.iter().any(|c| c.node == 0) {
            return Err(RaftError::new(code::INVALID, format!("group {group:?}: a conf change needs at least one change, each naming a node id > 0")));
        }
        let mut cc = ConfChangeV2::default();
        for c in changes {
            let mut single = ConfChangeSingle::default();
            single.set_change_type(c.kind.to_raft());
            single.node_id = c.node;
            cc.mut_changes().push(single);
        }
        self.with(group, |g| g.node.propose_conf_change(context, cc).map_err(|e| from_raft(group, "conf change", e)))
    }

    /// One received message (an encoded raft `Message`) for this node in `group`.
    pub fn step(&mut self, group: &str, bytes: &[u8]) -> Result<()> {
        let message: Message = decode(&format!("group {group:?}: message"), bytes)?;
        self.with(group, |g| {
            let me = g.node.raft.id;
            if message.to != me {
                return Err(RaftError::new(code::STEP, format!("group {group:?}: message for node {} reached node {me}", message.to)));
            }
            g.node.step(message).map_err(|e| from_raft(group, "step", e))
        })
    }

    pub fn campaign(&mut self, group: &str) -> Result<()> {
        self.with(group, |g| g.node.campaign().map_err(|e| from_raft(group, "campaign", e)))
    }

    pub fn transfer_leader(&mut self, group: &str, to: u64) -> Result<()> {
        self.with(group, |g| {
            g.node.transfer_leader(to);
            Ok(())
        })
    }

    /// Asks for a read index; the answer comes as a `read_states` item with the same context.
    pub fn read_index(&mut self, group: &str, context: Vec<u8>) -> Result<()> {
        self.with(group, |g| {
            g.node.read_index(context);
            Ok(())
        })
    }

    /// A message to `peer` could not be delivered (connection down): probe it gently.
    pub fn report_unreachable(&mut self, group: &str, peer: u64) -> Result<()> {
        self.with(group, |g| {
            g.node.report_unreachable(peer);
            Ok(())
        })
    }

    /// Whether a snapshot sent to `peer` arrived; raft-rs holds that peer until told.
    pub fn report_snapshot(&mut self, group: &str, peer: u64, delivered: bool) -> Result<()> {
        self.with(group, |g| {
            g.node.report_snapshot(peer, if delivered { SnapshotStatus::Finish } else { SnapshotStatus::Failure });
            Ok(())
        })
    }

    /// The group's next Ready, or None. The mirror storage takes its entries, hard state and
    /// snapshot at once; conf changes among its committed entries are applied to the group.
    pub fn take_ready(&mut self, group: &str) -> Result<Option<ReadyOut>> {
        self.with(group, |g| {
            if !g.node.has_ready() {
                return Ok(None);
            }
            let mut rd = g.node.ready();
            let mut out = ReadyOut { number: rd.number(), must_sync: rd.must_sync(), ..Default::default() };
            if let Some(ss) = rd.ss() {
                out.soft_state = Some(SoftStateOut { leader_id: ss.leader_id, role: ss.raft_state.into(), term: g.node.raft.term });
            }
            let store = g.node.mut_store();
            if !rd.snapshot().is_empty() {
                store.apply_snapshot(rd.snapshot());
                out.snapshot = Some(SnapshotOut::from_raft(rd.snapshot())?);
            }
            // A storage refusal here means raft-rs handed out an inconsistent Ready: a bug, not
            // bad input, so it fences the group like a panic would.
            store.append(group, rd.entries()).map_err(|e| RaftError::new(code::GROUP_FAILED, e.message))?;
            out.entries = rd.entries().iter().map(persist_entry).collect::<Result<_>>()?;
            if let Some(hs) = rd.hs() {
                store.set_hard_state(hs.clone());
                out.hard_state = Some(hs.into());
            }
            let mut messages = rd.take_messages();
            messages.extend(rd.take_persisted_messages());
            out.messages = messages
                .iter()
                .map(|m| Ok(OutMessage { to: m.to, bytes: encode(m)?, is_snapshot: m.get_msg_type() == raft::eraftpb::MessageType::MsgSnapshot }))
                .collect::<Result<_>>()?;
            out.read_states = rd.take_read_states().into_iter().map(ReadStateOut::from).collect();
            let committed = rd.take_committed_entries();
            g.node.advance_append_async(rd);

            if out.snapshot.is_some() {
                g.conf_history.clear();
            }
            for entry in &committed {
                let (mut c, cc) = committed_entry(entry)?;
                if let Some(cc) = cc {
                    match g.node.apply_conf_change(&cc) {
                        Ok(cs) => {
                            c.conf_state = Some(ConfStateOut::from(&cs));
                            g.conf_history.push((entry.index, cs));
                        }
                        Err(e) => c.conf_change_error = Some(e.to_string()),
                    }
                }
                out.committed.push(c);
            }
            let applied = out.committed.last().map(|c| c.index).or(out.snapshot.as_ref().map(|s| s.index)).unwrap_or(0);
            g.in_flight.push_back((out.number, applied));
            Ok(Some(out))
        })
    }

    /// Ready `number` (and every earlier one) is handled: persisted and synced, its messages
    /// sent, its snapshot and committed entries applied.
    pub fn advance(&mut self, group: &str, number: u64) -> Result<()> {
        self.with(group, |g| {
            if !g.in_flight.iter().any(|&(n, _)| n == number) {
                return Err(RaftError::new(code::READY, format!("group {group:?}: Ready {number} is not awaiting advance")));
            }
            let mut applied = 0;
            while let Some(&(n, a)) = g.in_flight.front() {
                if n > number {
                    break;
                }
                applied = applied.max(a);
                g.in_flight.pop_front();
            }
            g.node.on_persist_ready(number);
            if applied > g.node.raft.raft_log.applied {
                g.node.advance_apply_to(applied);
            }
            Ok(())
        })
    }

    /// Replaces the group's snapshot with `data`, the caller's state machine as of `index`
    /// (applied), and drops the log up to it. Returns the snapshot to persist; the caller then
    /// drops its persisted entries up to `index`.
    pub fn compact(&mut self, group: &str, index: u64, data: Vec<u8>) -> Result<SnapshotOut> {
        self.with(group, |g| {
            let applied = g.node.raft.raft_log.applied;
            let store = g.node.store();
            let current = store.snapshot_meta().index;
            if index > applied || index <= current {
                return Err(RaftError::new(code::COMPACT, format!("group {group:?}: cannot compact at {index}: it must be above the snapshot ({current}) and at most the applied index ({applied})")));
            }
            let term = store.term_of(index).ok_or_else(|| RaftError::new(code::COMPACT, format!("group {group:?}: no entry at {index}")))?;
            let conf_state = g
                .conf_history
                .iter()
                .rev()
                .find(|(i, _)| *i <= index)
                .map(|(_, cs)| cs.clone())
                .unwrap_or_else(|| store.snapshot_meta().get_conf_state().clone());
            g.conf_history.retain(|(i, _)| *i > index);
            let mut meta = SnapshotMetadata::default();
            meta.index = index;
            meta.term = term;
            meta.set_conf_state(conf_state);
            let out = SnapshotOut::new(&meta, &data)?;
            g.node.mut_store().compact(meta, data.into());
            Ok(out)
        })
    }

    pub fn status(&mut self, group: &str) -> Result<GroupStatus> {
        self.with(group, |g| {
            let raft = &g.node.raft;
            let store = g.node.store();
            Ok(GroupStatus {
                id: raft.id,
                term: raft.term,
                vote: raft.vote,
                commit: raft.raft_log.committed,
                applied: raft.raft_log.applied,
                leader_id: raft.leader_id,
                role: raft.state.into(),
                first_index: store.first(),
                last_index: raft.raft_log.last_index(),
                snapshot_index: store.snapshot_meta().index,
                conf_state: ConfStateOut::from(&raft.prs().conf().to_conf_state()),
                progress: if raft.state == StateRole::Leader {
                    let mut p: Vec<(u64, u64)> = raft.prs().iter().map(|(id, pr)| (*id, pr.matched)).collect();
                    p.sort_unstable();
                    p
                } else {
                    Vec::new()
                },
            })
        })
    }
}

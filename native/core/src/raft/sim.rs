//! A simulated cluster for the tests: nodes each hosting a `RaftGroups`, a message queue the test
//! controls (deliver, drop, duplicate, reorder, cut links), a per-node "disk" that keeps exactly
//! what a caller persists from each Ready, crashes that lose everything else, and a global
//! record of every applied entry that fails the test the moment two nodes apply different
//! entries at one index.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// What the caller keeps on disk for one group: the same rules as src/raft/raft-store.ts.
#[derive(Clone, Default)]
pub struct Disk {
    pub hard_state: HardStateOut,
    pub snapshot: Option<SnapshotOut>,
    pub entries: Vec<PersistEntry>,
}

impl Disk {
    pub fn persist(&mut self, rd: &ReadyOut) {
        if let Some(s) = &rd.snapshot {
            self.entries.retain(|e| e.index > s.index);
            self.snapshot = Some(s.clone());
        }
        if let Some(first) = rd.entries.first() {
            self.entries.retain(|e| e.index < first.index);
            self.entries.extend(rd.entries.iter().cloned());
        }
        if let Some(hs) = rd.hard_state {
            self.hard_state = hs;
        }
    }

    pub fn compact(&mut self, s: &SnapshotOut) {
        self.entries.retain(|e| e.index > s.index);
        self.snapshot = Some(s.clone());
    }

    pub fn restore_state(&self) -> RestoreState {
        RestoreState {
            hard_state: self.hard_state,
            snapshot: self.snapshot.as_ref().map(|s| (s.metadata.clone(), s.data.clone())),
            entries: self.entries.iter().map(|e| e.bytes.clone()).collect(),
        }
    }
}

/// A node's state machine: every applied entry by index (term, data).
pub type Applied = BTreeMap<u64, (u64, Vec<u8>)>;

/// Snapshot data: the whole applied map, so a snapshot install can be checked entry by entry.
pub fn encode_applied(applied: &Applied) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, (term, data)) in applied {
        out.extend_from_slice(&index.to_le_bytes());
        out.extend_from_slice(&term.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

pub fn decode_applied(mut bytes: &[u8]) -> Applied {
    let mut out = Applied::new();
    let u64_at = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
    while !bytes.is_empty() {
        let index = u64_at(bytes);
        let term = u64_at(&bytes[8..]);
        let len = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes")) as usize;
        out.insert(index, (term, bytes[20..20 + len].to_vec()));
        bytes = &bytes[20 + len..];
    }
    out
}

pub struct SimNode {
    pub id: u64,
    /// None while crashed.
    pub groups: Option<RaftGroups>,
    pub disks: BTreeMap<String, Disk>,
    pub applied: BTreeMap<String, Applied>,
    /// Conf states seen in applied conf changes, last one per group.
    pub conf: BTreeMap<String, ConfStateOut>,
}

pub struct Envelope {
    pub is_snapshot: bool,
    pub from: u64,
    pub to: u64,
    pub group: String,
    pub bytes: Vec<u8>,
}

pub struct Sim {
    pub nodes: Vec<SimNode>,
    pub queue: Vec<Envelope>,
    /// Cut links, both directions: (lower id, higher id).
    pub cut: BTreeSet<(u64, u64)>,
    /// Every entry any node applied: (group, index) → (term, data).
    pub global: BTreeMap<(String, u64), (u64, Vec<u8>)>,
    pub options: GroupOptions,
    /// Whether a step may find its group fenced off (only the test that forges a message).
    pub allow_failed: bool,
    counter: u64,
}

impl Sim {
    /// `n` nodes with ids 1..=n; each group in `groups` bootstrapped on all of them as voters.
    pub fn new(n: u64, groups: &[&str]) -> Sim {
        let mut sim = Sim {
            nodes: (1..=n)
                .map(|id| SimNode { id, groups: Some(RaftGroups::new()), disks: BTreeMap::new(), applied: BTreeMap::new(), conf: BTreeMap::new() })
                .collect(),
            queue: Vec::new(),
            cut: BTreeSet::new(),
            global: BTreeMap::new(),
            options: GroupOptions::default(),
            allow_failed: false,
            counter: 0,
        };
        let voters: Vec<u64> = (1..=n).collect();
        for g in groups {
            for id in 1..=n {
                sim.create(id, g, &voters, &[]);
            }
        }
        sim
    }

    pub fn node(&mut self, id: u64) -> &mut SimNode {
        &mut self.nodes[(id - 1) as usize]
    }

    pub fn rg(&mut self, id: u64) -> &mut RaftGroups {
        self.node(id).groups.as_mut().expect("node is up")
    }

    /// Creates `group` on node `id` (bootstrap with voters, or join with none), persisting the
    /// bootstrap snapshot as a caller must.
    pub fn create(&mut self, id: u64, group: &str, voters: &[u64], learners: &[u64]) {
        let options = self.options.clone();
        let boot = self.rg(id).create(group, id, voters, learners, &options).expect("create");
        let node = self.node(id);
        let disk = node.disks.entry(group.to_owned()).or_default();
        if let Some(b) = boot {
            disk.entries = b.entries;
            disk.hard_state = b.hard_state;
        }
        node.applied.entry(group.to_owned()).or_default();
    }

    pub fn is_up(&self, id: u64) -> bool {
        self.nodes[(id - 1) as usize].groups.is_some()
    }

    /// Handles every pending Ready of node `id` in the documented order.
    pub fn handle_readies(&mut self, id: u64) -> bool {
        let mut any = false;
        let Some(rg) = self.nodes[(id - 1) as usize].groups.as_mut() else { return false };
        let mut readies = Vec::new();
        for group in rg.ready_groups() {
            while let Some(rd) = rg.take_ready(&group).expect("take_ready") {
                readies.push((group.clone(), rd));
            }
        }
        for (group, rd) in readies {
            any = true;
            let node = &mut self.nodes[(id - 1) as usize];
            node.disks.entry(group.clone()).or_default().persist(&rd);
            for m in &rd.messages {
                self.queue.push(Envelope { is_snapshot: m.is_snapshot, from: id, to: m.to, group: group.clone(), bytes: m.bytes.clone() });
            }
            if let Some(s) = &rd.snapshot {
                let state = decode_applied(&s.data);
                for (index, entry) in &state {
                    check(&mut self.global, &group, *index, entry, id);
                }
                node.applied.insert(group.clone(), state);
                node.conf.insert(group.clone(), s.conf_state.clone());
            }
            for c in &rd.committed {
                // Conf changes are marked so `applied_data` can leave them out.
                let data = if c.is_conf_change { [b"conf:".as_slice(), &c.data].concat() } else { c.data.clone() };
                let entry = (c.term, data);
                check(&mut self.global, &group, c.index, &entry, id);
                let applied = node.applied.entry(group.clone()).or_default();
                if let Some((&last, _)) = applied.last_key_value() {
                    assert!(c.index == last + 1, "node {id} group {group}: applied {} after {last}", c.index);
                }
                applied.insert(c.index, entry);
                if let Some(why) = &c.conf_change_error {
                    eprintln!("node {id} group {group}: conf change at {} refused: {why}", c.index);
                }
                if let Some(cs) = &c.conf_state {
                    node.conf.insert(group.clone(), cs.clone());
                }
            }
            node.groups.as_mut().expect("up").advance(&group, rd.number).expect("advance");
        }
        any
    }

    fn linked(&self, a: u64, b: u64) -> bool {
        !self.cut.contains(&(a.min(b), a.max(b)))
    }

    /// Drops message `k`. A leader holds a follower it sent a snapshot to until told how that
    /// went, so a dropped snapshot is reported as failed, as a transport must.
    pub fn drop_message(&mut self, k: usize) {
        let env = self.queue.remove(k);
        self.report_snapshot(&env, false);
    }

    fn report_snapshot(&mut self, env: &Envelope, delivered: bool) {
        if !env.is_snapshot || !self.is_up(env.from) {
            return;
        }
        let rg = self.rg(env.from);
        if rg.has(&env.group) {
            // Fails only for a fenced group, which the step that fenced it already reported.
            let _ = rg.report_snapshot(&env.group, env.to, delivered);
        }
    }

    /// Delivers message `k` of the queue (or drops it if its link is cut or its node down).
    pub fn deliver(&mut self, k: usize) {
        let env = self.queue.remove(k);
        if !self.linked(env.from, env.to) || env.to == 0 || env.to as usize > self.nodes.len() || !self.is_up(env.to) || !self.rg(env.to).has(&env.group) {
            self.report_snapshot(&env, false);
            return;
        }
        self.report_snapshot(&env, true);
        let rg = self.rg(env.to);
        match rg.step(&env.group, &env.bytes) {
            Ok(()) => {}
            // Responses from peers no longer in the configuration are refused, and a proposal
            // forwarded to a node that lost track of the leader is dropped: both harmless.
            Err(e) if e.code == code::STEP || e.code == code::PROPOSAL_DROPPED => {}
            Err(e) if e.code == code::GROUP_FAILED && self.allow_failed => {}
            Err(e) => panic!("step on node {}: {e}", env.to),
        }
    }

    /// Runs until no Ready and no message is left.
    pub fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut any = false;
            for id in 1..=self.nodes.len() as u64 {
                any |= self.handle_readies(id);
            }
            while !self.queue.is_empty() {
                self.deliver(0);
                any = true;
            }
            if !any {
                return;
            }
        }
        panic!("the cluster did not settle");
    }

    /// `n` rounds of: tick every live node once, settle.
    pub fn tick(&mut self, n: usize) {
        for _ in 0..n {
            for node in &mut self.nodes {
                if let Some(rg) = node.groups.as_mut() {
                    assert!(rg.tick().is_empty(), "a group failed");
                }
            }
            self.settle();
        }
    }

    /// The live node that leads `group` in the highest term, if any.
    pub fn leader(&mut self, group: &str) -> Option<u64> {
        let mut best: Option<(u64, u64)> = None;
        for node in &mut self.nodes {
            let Some(rg) = node.groups.as_mut() else { continue };
            if !rg.has(group) {
                continue;
            }
            let st = rg.status(group).expect("status");
            if st.role == Role::Leader && best.is_none_or(|(t, _)| st.term > t) {
                best = Some((st.term, node.id));
            }
        }
        best.map(|(_, id)| id)
    }

    /// Ticks until `group` has a leader (panics after `max` ticks).
    pub fn elect(&mut self, group: &str, max: usize) -> u64 {
        for _ in 0..max {
            if let Some(l) = self.leader(group) {
                return l;
            }
            self.tick(1);
        }
        panic!("no leader for {group} after {max} ticks");
    }

    /// Proposes a fresh unique payload at node `id`; returns it (or the error).
    pub fn propose(&mut self, id: u64, group: &str) -> Result<Vec<u8>> {
        self.counter += 1;
        let data = format!("{group}#{}@{id}", self.counter).into_bytes();
        self.rg(id).propose(group, data.clone(), Vec::new()).map(|()| data)
    }

    pub fn crash(&mut self, id: u64) {
        let node = self.node(id);
        node.groups = None;
        node.applied.clear();
        node.conf.clear();
        // Messages it already sent stay on the wire; those to it are dropped on delivery.
    }

    /// Restarts node `id` from its disk: the state machine comes back from the snapshot, then the
    /// log's committed entries are applied again by the first Readies.
    pub fn restart(&mut self, id: u64) {
        let options = self.options.clone();
        let node = self.node(id);
        let mut rg = RaftGroups::new();
        for (group, disk) in &node.disks {
            rg.restore(group, id, disk.restore_state(), &options).expect("restore");
            let applied = disk.snapshot.as_ref().map(|s| decode_applied(&s.data)).unwrap_or_default();
            node.applied.insert(group.clone(), applied);
        }
        node.groups = Some(rg);
        self.settle();
    }

    /// Drops one group of node `id` from memory and restores it from its disk.
    pub fn reload(&mut self, id: u64, group: &str) {
        let options = self.options.clone();
        let node = self.node(id);
        let disk = &node.disks[group];
        let rg = node.groups.as_mut().expect("up");
        assert!(rg.remove(group));
        rg.restore(group, id, disk.restore_state(), &options).expect("restore");
        let applied = disk.snapshot.as_ref().map(|s| decode_applied(&s.data)).unwrap_or_default();
        node.applied.insert(group.to_owned(), applied);
    }

    /// Snapshot of node `id`'s state machine for `group` at its applied index, then compaction.
    pub fn compact(&mut self, id: u64, group: &str) -> Result<SnapshotOut> {
        let node = self.node(id);
        let applied = node.applied.get(group).cloned().unwrap_or_default();
        let Some((&index, _)) = applied.last_key_value() else {
            return Err(RaftError::new(code::COMPACT, "nothing applied"));
        };
        let snap = node.groups.as_mut().expect("up").compact(group, index, encode_applied(&applied))?;
        node.disks.get_mut(group).expect("disk").compact(&snap);
        Ok(snap)
    }

    pub fn applied_data(&self, id: u64, group: &str) -> Vec<Vec<u8>> {
        self.nodes[(id - 1) as usize].applied.get(group).map(|a| a.values().filter(|(_, d)| !d.is_empty() && !d.starts_with(b"conf:")).map(|(_, d)| d.clone()).collect()).unwrap_or_default()
    }

    pub fn isolate(&mut self, id: u64) {
        for other in 1..=self.nodes.len() as u64 {
            if other != id {
                self.cut.insert((id.min(other), id.max(other)));
            }
        }
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }
}

fn check(global: &mut BTreeMap<(String, u64), (u64, Vec<u8>)>, group: &str, index: u64, entry: &(u64, Vec<u8>), node: u64) {
    match global.get(&(group.to_owned(), index)) {
        Some(seen) => assert_eq!(seen, entry, "node {node} applied a different entry at {group}[{index}]"),
        None => {
            global.insert((group.to_owned(), index), entry.clone());
        }
    }
}

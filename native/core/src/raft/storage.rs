//! `GroupStorage`: raft-rs's `Storage` over an in-memory mirror of what the caller keeps on disk.
//!
//! The caller (TypeScript) owns durability: it fills the mirror at start from its files and
//! persists every Ready it takes. The mirror is appended to when a Ready is taken, before the
//! caller has written it, as raft-rs's asynchronous-ready contract asks ("the updates can be read
//! by raft from the Storage before calling advance_append_async"); raft-rs itself never treats
//! them as durable until `on_persist_ready`. Entries past the last snapshot are all kept here,
//! so `compact` is what bounds memory.

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError};

use super::error::{code, RaftError};

#[derive(Default)]
pub struct GroupStorage {
    hard_state: HardState,
    /// Configuration raft-rs starts from: the last snapshot's (restore) or the bootstrap voters.
    conf_state: ConfState,
    snapshot_meta: SnapshotMetadata,
    snapshot_data: bytes::Bytes,
    /// `entries[i].index == snapshot_meta.index + 1 + i`.
    entries: Vec<Entry>,
}

impl GroupStorage {
    /// Storage restored from persisted state. Entries at or below the snapshot are skipped (a
    /// crash between writing a snapshot and rewriting the log leaves them behind); the rest must
    /// follow the snapshot without gaps, and the commit index must not pass the last entry.
    pub fn restore(group: &str, hard_state: HardState, snapshot: Snapshot, entries: Vec<Entry>) -> Result<Self, RaftError> {
        let mut snapshot = snapshot;
        let meta = snapshot.take_metadata();
        let mut storage = GroupStorage {
            hard_state,
            conf_state: meta.get_conf_state().clone(),
            snapshot_data: snapshot.data,
            snapshot_meta: meta,
            entries: Vec::with_capacity(entries.len()),
        };
        let base = storage.snapshot_meta.index;
        for entry in entries.into_iter().filter(|e| e.index > base) {
            let expected = storage.last_index() + 1;
            if entry.index != expected {
                return Err(RaftError::new(code::STORAGE, format!("group {group:?}: entry {} follows {} (expected {expected})", entry.index, expected - 1)));
            }
            storage.entries.push(entry);
        }
        // A snapshot is committed by definition; a hard state older than it (lost in a crash
        // after the snapshot was written) must not pull the commit index back.
        if storage.hard_state.commit < base {
            storage.hard_state.commit = base;
        }
        if storage.hard_state.term < storage.snapshot_meta.term {
            storage.hard_state.term = storage.snapshot_meta.term;
        }
        if storage.hard_state.commit > storage.last_index() {
            return Err(RaftError::new(
                code::STORAGE,
                format!("group {group:?}: commit index {} is past the last entry {}: committed entries are missing", storage.hard_state.commit, storage.last_index()),
            ));
        }
        Ok(storage)
    }

    /// Keeps the starting configuration but not as the snapshot's: a bootstrap has no snapshot,
    /// its configuration lives in the log's first entries.
    pub(crate) fn forget_snapshot_conf_state(&mut self) {
        self.snapshot_meta.clear_conf_state();
    }

    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    pub fn snapshot_meta(&self) -> &SnapshotMetadata {
        &self.snapshot_meta
    }

    pub(crate) fn first(&self) -> u64 {
        self.snapshot_meta.index + 1
    }

    pub(crate) fn last(&self) -> u64 {
        self.entries.last().map_or(self.snapshot_meta.index, |e| e.index)
    }

    fn last_index(&self) -> u64 {
        self.last()
    }

    pub fn set_hard_state(&mut self, hs: HardState) {
        self.hard_state = hs;
    }

    /// Appends entries from a Ready, replacing any conflicting tail (a deposed leader's
    /// uncommitted entries). Refuses a gap or an overwrite of compacted entries.
    pub fn append(&mut self, group: &str, entries: &[Entry]) -> Result<(), RaftError> {
        let Some(first) = entries.first() else { return Ok(()) };
        if first.index < self.first() {
            return Err(RaftError::new(code::STORAGE, format!("group {group:?}: append at {} overwrites compacted entries (first is {})", first.index, self.first())));
        }
        if first.index > self.last() + 1 {
            return Err(RaftError::new(code::STORAGE, format!("group {group:?}: append at {} leaves a gap after {}", first.index, self.last())));
        }
        self.entries.truncate((first.index - self.first()) as usize);
        self.entries.extend_from_slice(entries);
        Ok(())
    }

    /// Installs a snapshot received from the leader: the log restarts after it.
    pub fn apply_snapshot(&mut self, snapshot: &Snapshot) {
        let meta = snapshot.get_metadata();
        self.snapshot_meta = meta.clone();
        self.snapshot_data = snapshot.data.clone();
        self.conf_state = meta.get_conf_state().clone();
        self.hard_state.commit = self.hard_state.commit.max(meta.index);
        self.hard_state.term = self.hard_state.term.max(meta.term);
        self.entries.clear();
    }

    /// Replaces the snapshot with one the caller made at `meta.index` and drops the entries it
    /// covers. The caller checked that `meta.index` is within the log.
    pub fn compact(&mut self, meta: SnapshotMetadata, data: bytes::Bytes) {
        let drop = (meta.index - self.snapshot_meta.index) as usize;
        self.entries.drain(..drop.min(self.entries.len()));
        self.snapshot_meta = meta;
        self.snapshot_data = data;
    }

    /// Term of `index` if it is in the log or is the snapshot's index.
    pub fn term_of(&self, index: u64) -> Option<u64> {
        if index == self.snapshot_meta.index {
            return Some(self.snapshot_meta.term);
        }
        if index < self.first() || index > self.last() {
            return None;
        }
        Some(self.entries[(index - self.first()) as usize].term)
    }
}

impl raft::Storage for GroupStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(self.hard_state.clone(), self.conf_state.clone()))
    }

    fn entries(&self, low: u64, high: u64, max_size: impl Into<Option<u64>>, _context: GetEntriesContext) -> raft::Result<Vec<Entry>> {
        if low < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last() + 1 || low > high {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let start = (low - self.first()) as usize;
        let end = (high - self.first()) as usize;
        let max_size = max_size.into().unwrap_or(u64::MAX);
        // At least one entry even when it alone passes the limit, as the trait requires.
        let mut size = 0u64;
        let mut out = Vec::new();
        for entry in &self.entries[start..end] {
            size += u64::from(protobuf::Message::compute_size(entry));
            if !out.is_empty() && size > max_size {
                break;
            }
            out.push(entry.clone());
        }
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx < self.snapshot_meta.index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        self.term_of(idx).ok_or(raft::Error::Store(StorageError::Unavailable))
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        if self.snapshot_meta.index < request_index {
            return Err(raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable));
        }
        let mut snapshot = Snapshot::default();
        snapshot.set_metadata(self.snapshot_meta.clone());
        snapshot.data = self.snapshot_data.clone();
        Ok(snapshot)
    }
}

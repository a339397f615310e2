//! Id → slot table for the merges. Ids stay in the wire buffers: the table holds only slot
//! numbers, and each merge keeps, per slot, where the id's bytes are (its own record array),
//! so a probe touches one table bucket and one record instead of a separate key array.
//!
//! Nothing in here borrows the buffers, so a thread can keep one table (and its allocation)
//! from merge to merge; see [`crate::scratch`].

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::hash_table::{Entry, HashTable};

/// Where an id's bytes are: position of its partition among the accepted ones and its byte
/// range in that partition's blob.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdAt {
    pub pos: u32,
    pub start: u32,
    pub end: u32,
}

impl IdAt {
    #[inline]
    pub fn bytes<'a>(&self, blobs: &[&'a [u8]]) -> &'a [u8] {
        &blobs[self.pos as usize][self.start as usize..self.end as usize]
    }
}

/// Slot numbers keyed by id; slots count up from 0 in insertion order.
#[derive(Default)]
pub struct IdTable {
    table: HashTable<u32>,
    state: RandomState,
}

impl IdTable {
    /// Empties the table and makes room for `capacity` ids without rehashing.
    pub fn reset(&mut self, capacity: usize) {
        // Clearing costs one pass over the buckets: a table kept from a much larger merge is
        // cheaper to replace than to clear for a small one.
        if self.table.capacity() > 4 * capacity.max(1024) {
            self.table = HashTable::with_capacity(capacity);
            return;
        }
        self.table.clear();
        let state = &self.state;
        self.table.reserve(capacity, |_| unreachable_rehash(state));
    }

    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.state.hash_one(key)
    }

    /// The slot of `key` if it is in the table; otherwise inserts `next` for it and returns
    /// None. `key_of` gives the id of a slot already in the table.
    #[inline]
    pub fn find_or_insert<'a>(
        &mut self,
        key: &[u8],
        next: u32,
        key_of: impl Fn(u32) -> &'a [u8],
    ) -> Option<u32> {
        let hash = self.hash(key);
        self.find_or_insert_hashed(hash, key, next, key_of)
    }

    /// [`Self::find_or_insert`] with `hash` = [`Self::hash`] of `key`, computed ahead of time.
    #[inline]
    pub fn find_or_insert_hashed<'a>(
        &mut self,
        hash: u64,
        key: &[u8],
        next: u32,
        key_of: impl Fn(u32) -> &'a [u8],
    ) -> Option<u32> {
        let state = &self.state;
        let entry = self.table.entry(
            hash,
            |&slot| key_of(slot) == key,
            |&slot| state.hash_one(key_of(slot)),
        );
        match entry {
            Entry::Occupied(e) => Some(*e.get()),
            Entry::Vacant(e) => {
                e.insert(next);
                None
            }
        }
    }
}

/// `reset` empties the table before reserving, so the rehash callback never runs.
fn unreachable_rehash(_: &RandomState) -> u64 {
    unreachable!("an empty table has nothing to rehash")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_inserted_past_its_capacity() {
        let ids: Vec<String> = (0..200).map(|i| format!("id-{i}")).collect();
        let mut table = IdTable::default();
        table.reset(4);
        let key_of = |slot: u32| ids[slot as usize].as_bytes();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(table.find_or_insert(id.as_bytes(), i as u32, key_of), None);
        }
        assert_eq!(table.find_or_insert(b"id-7", 999, key_of), Some(7));
        table.reset(10);
        assert_eq!(table.find_or_insert(b"id-7", 0, key_of), None);
    }

    #[test]
    fn id_at_reads_its_blob() {
        let blobs: [&[u8]; 2] = [b"abc", b"xyz"];
        assert_eq!(
            IdAt {
                pos: 1,
                start: 1,
                end: 3
            }
            .bytes(&blobs),
            b"yz"
        );
    }
}

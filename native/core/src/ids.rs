//! Interning of ids borrowed from the wire buffers: each distinct id gets a dense slot number,
//! in order of first appearance, without copying or allocating per id.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::hash_table::{Entry, HashTable};

/// Id → slot, where slots count up from 0 in insertion order.
pub struct IdMap<'a> {
    // Only slot numbers live in the table (4 bytes a bucket), which keeps it cache-friendly;
    // the keys sit in insertion order beside it.
    table: HashTable<u32>,
    keys: Vec<&'a [u8]>,
    state: RandomState,
}

impl<'a> IdMap<'a> {
    /// Room for `capacity` distinct ids without rehashing.
    pub fn with_capacity(capacity: usize) -> Self {
        IdMap {
            table: HashTable::with_capacity(capacity),
            keys: Vec::with_capacity(capacity),
            state: RandomState::default(),
        }
    }

    /// Slot of `key` and whether this call inserted it.
    #[inline]
    pub fn intern(&mut self, key: &'a [u8]) -> (u32, bool) {
        let Self { table, keys, state } = self;
        let hash = state.hash_one(key);
        let entry = table.entry(
            hash,
            |&slot| keys[slot as usize] == key,
            |&slot| state.hash_one(keys[slot as usize]),
        );
        match entry {
            Entry::Occupied(e) => (*e.get(), false),
            Entry::Vacant(e) => {
                let slot = keys.len() as u32;
                e.insert(slot);
                keys.push(key);
                (slot, true)
            }
        }
    }

    /// The id of `slot`.
    pub fn key(&self, slot: u32) -> &'a [u8] {
        self.keys[slot as usize]
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Forgets every id but keeps the allocation.
    pub fn clear(&mut self) {
        self.table.clear();
        self.keys.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_first_appearance() {
        let mut map = IdMap::with_capacity(2);
        assert_eq!(map.intern(b"b"), (0, true));
        assert_eq!(map.intern(b"a"), (1, true));
        assert_eq!(map.intern(b"b"), (0, false));
        // Growing past the initial capacity keeps every slot.
        for i in 0..100u32 {
            let key: &'static [u8] = Box::leak(i.to_string().into_bytes().into_boxed_slice());
            map.intern(key);
        }
        assert_eq!(map.intern(b"a"), (1, false));
        assert_eq!(map.key(0), b"b");
        assert_eq!(map.len(), 102);
        map.clear();
        assert!(map.is_empty());
        assert_eq!(map.intern(b"a"), (0, true));
    }
}

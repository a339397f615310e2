//! Id → slot table of the spread merge: open addressing over one `u64` array, each bucket a
//! 24-bit hash tag, an 8-bit epoch and a 32-bit slot number. A probe compares tags in the
//! dense array and looks at a slot's record only on a tag match, so a P1-sized table (1 MB)
//! costs one cache line per lookup; [`SpreadTable::prefetch`] lets the merge request that
//! line a few rows ahead.
//!
//! A bucket is occupied only if it carries the current epoch, so emptying the table between
//! merges is one increment instead of a pass over the whole array; the array is zeroed only
//! when the epoch wraps (every 255 merges) or grows.
//!
//! Ids are compared through a [`Fingerprint`]: their length and two 8-byte words, which for
//! ids of up to 16 bytes (the usual memory id) are the bytes themselves, so such a comparison
//! needs no read of the wire buffer the id first appeared in. The hash is a folded 64×64→128
//! multiply of those words, seeded once per table from foldhash's random state so crafted
//! ids cannot predict collisions.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;

const K1: u64 = 0x1319_8a2e_0370_7344;
const K2: u64 = 0xa409_3822_299f_31d0;
const TAG_SHIFT: u32 = 40;
const EPOCH_SHIFT: u32 = 32;
/// Tag and epoch bits of a bucket.
const OWNER: u64 = !0xffff_ffff;

/// Bucket array, its seed and the epoch that marks this merge's buckets.
pub struct SpreadTable {
    buckets: Vec<u64>,
    mask: usize,
    seed: u64,
    /// 1..=255; buckets of other epochs (0 is a zeroed bucket) count as empty.
    epoch: u64,
}

impl Default for SpreadTable {
    fn default() -> Self {
        SpreadTable {
            buckets: Vec::new(),
            mask: 0,
            seed: RandomState::default().hash_one(0x5eed_u64) | 1,
            epoch: 1,
        }
    }
}

#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let r = (a as u128).wrapping_mul(b as u128);
    (r as u64) ^ ((r >> 64) as u64)
}

#[inline(always)]
fn word(key: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(key[at..at + 8].try_into().unwrap())
}

#[inline(always)]
fn half(key: &[u8], at: usize) -> u64 {
    u32::from_le_bytes(key[at..at + 4].try_into().unwrap()) as u64
}

/// An id's length and two words of its bytes: the first 8 and the last 8 (overlapping for
/// 9–15 bytes), or for shorter ids all of them, zero-padded. Two ids of at most 16 bytes are
/// equal exactly when their fingerprints are; longer ids also need [`same_middle`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint {
    pub head: u64,
    pub tail: u64,
    pub len: u32,
}

impl Fingerprint {
    #[inline(always)]
    pub fn of(key: &[u8]) -> Self {
        let n = key.len();
        let (head, tail) = if n >= 8 {
            (word(key, 0), word(key, n - 8))
        } else if n >= 4 {
            // The two reads overlap on the same bytes at the same places, so OR joins them.
            (half(key, 0) | half(key, n - 4) << (8 * (n - 4)), 0)
        } else if n > 0 {
            let b = |i: usize| (key[i] as u64) << (8 * i);
            (b(0) | b(n / 2) | b(n - 1), 0)
        } else {
            (0, 0)
        };
        Fingerprint {
            head,
            tail,
            len: n as u32,
        }
    }

    /// Whether equal fingerprints alone prove the ids equal.
    #[inline(always)]
    pub fn is_whole(&self) -> bool {
        self.len <= 16
    }
}

/// Byte equality of two ids known to have the same [`Fingerprint`] (so the same length and
/// the same first and last 8 bytes): compares what lies between.
#[inline]
pub fn same_middle(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    n <= 16 || a[8..n - 8] == b[8..n - 8]
}

/// Buckets for `rows` ids: a power of two with load at most 0.8 when every id is distinct
/// (merges with overlap, the point of Spread, load it far less).
pub fn buckets_for(rows: usize) -> usize {
    (rows.max(8) + rows / 4).next_power_of_two()
}

impl SpreadTable {
    /// Empties the table and sizes it for `rows` ids.
    pub fn reset(&mut self, rows: usize) {
        let want = buckets_for(rows);
        if self.buckets.len() < want {
            self.buckets = vec![0; want];
            self.epoch = 1;
        } else if self.epoch == 0xff {
            self.buckets.fill(0);
            self.epoch = 1;
        } else {
            self.epoch += 1;
        }
        // A larger array kept from an earlier merge is used only up to `want`: a small merge
        // touches a small, cache-resident prefix.
        self.mask = want - 1;
    }

    /// Buckets held (the allocation, not the part in use).
    pub fn capacity(&self) -> usize {
        self.buckets.len()
    }

    /// Hash of the id `key` whose fingerprint is `fp`.
    #[inline]
    pub fn hash(&self, key: &[u8], fp: Fingerprint) -> u64 {
        let s = self.seed;
        let n = key.len();
        let (a, b) = if n > 16 {
            let mut h = s;
            let mut at = 0;
            while at + 16 < n {
                h = fold(word(key, at) ^ h, word(key, at + 8) ^ K1);
                at += 16;
            }
            (word(key, n - 16) ^ h, fp.tail)
        } else {
            (fp.head, fp.tail)
        };
        fold(a ^ s, b ^ K2 ^ (n as u64).rotate_left(32))
    }

    #[inline(always)]
    fn owner(&self, hash: u64) -> u64 {
        (hash >> TAG_SHIFT << TAG_SHIFT) | self.epoch << EPOCH_SHIFT
    }

    /// Asks the CPU for the bucket of `hash` ahead of its probe.
    #[inline(always)]
    pub fn prefetch(&self, hash: u64) {
        if let Some(b) = self.buckets.get(hash as usize & self.mask) {
            prefetch(b);
        }
    }

    /// The slot of the id whose hash is `hash` if present (`is` says whether a slot holds that
    /// id); otherwise records `next` for it and returns None.
    #[inline(always)]
    pub fn find_or_insert(
        &mut self,
        hash: u64,
        next: u32,
        mut is: impl FnMut(u32) -> bool,
    ) -> Option<u32> {
        let owner = self.owner(hash);
        let epoch_bits = 0xff << EPOCH_SHIFT;
        let current = self.epoch << EPOCH_SHIFT;
        let mut i = hash as usize & self.mask;
        loop {
            let b = self.buckets[i];
            if b & epoch_bits != current {
                self.buckets[i] = owner | next as u64;
                return None;
            }
            if b & OWNER == owner && is(b as u32) {
                return Some(b as u32);
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// Requests the cache line of `at`; a hint that never faults.
#[inline(always)]
fn prefetch<T>(at: &T) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    // SAFETY: prefetching only hints the cache; `at` is a valid reference.
    unsafe {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(at as *const T as *const i8);
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = at;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        (0..5000)
            .map(|i| match i % 5 {
                0 => format!("{i}"),
                1 => format!("id-{i}"),
                2 => format!("memory-{i}-x"),
                3 => format!("é{i}"),
                _ => format!("a-rather-long-memory-identifier-{i}"),
            })
            .collect()
    }

    /// Inserts every id, then finds each; `same` is the byte equality the merge implements.
    fn round_trip(table: &mut SpreadTable, ids: &[String]) {
        table.reset(ids.len());
        let same = |slot: u32, id: &str| ids[slot as usize] == id;
        for (i, id) in ids.iter().enumerate() {
            let h = table.hash(id.as_bytes(), Fingerprint::of(id.as_bytes()));
            assert_eq!(table.find_or_insert(h, i as u32, |s| same(s, id)), None);
        }
        for (i, id) in ids.iter().enumerate() {
            let h = table.hash(id.as_bytes(), Fingerprint::of(id.as_bytes()));
            assert_eq!(table.find_or_insert(h, 0, |s| same(s, id)), Some(i as u32));
        }
    }

    #[test]
    fn finds_what_it_inserted_and_forgets_it_on_reset() {
        let ids = ids();
        let mut table = SpreadTable::default();
        // Past an epoch wrap-around, and on a smaller prefix of a larger array.
        for _ in 0..300 {
            round_trip(&mut table, &ids);
        }
        round_trip(&mut table, &ids[..10]);
        table.reset(3);
        let h = table.hash(b"", Fingerprint::of(b""));
        assert_eq!(table.find_or_insert(h, 0, |_| true), None);
    }

    #[test]
    fn fingerprints_of_short_ids_are_their_bytes() {
        let keys: [&[u8]; 12] = [
            b"",
            b"\0",
            b"a",
            b"ab",
            b"a\0",
            b"abc",
            b"abcd",
            b"abcdefg",
            b"abcdefgh",
            b"abcdefgi",
            b"abcdefghijk",
            b"abcdefghijklmnop",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(
                    Fingerprint::of(a) == Fingerprint::of(b),
                    a == b,
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn long_ids_compare_their_middle() {
        let a = b"abcdefgh-middle-1-abcdefgh";
        let b = b"abcdefgh-middle-2-abcdefgh";
        assert_eq!(Fingerprint::of(a), Fingerprint::of(b));
        assert!(!Fingerprint::of(a).is_whole());
        assert!(!same_middle(a, b));
        assert!(same_middle(a, a));
    }
}

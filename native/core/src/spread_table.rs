//! Id → slot table of the spread merge: open addressing over one `u64` array, each bucket a
//! 32-bit hash tag and a 32-bit slot number (+1, 0 = empty). A probe compares tags in the
//! dense array and touches an id's bytes only on a tag match, so a P1-sized table (1–2 MB)
//! costs one cache line per lookup; [`SpreadTable::prefetch`] lets the merge request that line
//! a few rows ahead.
//!
//! The hash is a folded 64×64→128 multiply over 8-byte words, seeded once per table from
//! foldhash's random state so crafted ids cannot predict collisions.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;

const TAG: u64 = 0xffff_ffff_0000_0000;
const K1: u64 = 0x1319_8a2e_0370_7344;
const K2: u64 = 0xa409_3822_299f_31d0;

/// Bucket array and its seed; the table keeps its allocation from merge to merge.
pub struct SpreadTable {
    buckets: Vec<u64>,
    mask: usize,
    seed: u64,
}

impl Default for SpreadTable {
    fn default() -> Self {
        SpreadTable {
            buckets: Vec::new(),
            mask: 0,
            seed: RandomState::default().hash_one(0x5eed_u64) | 1,
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

/// Byte equality with two word compares for the usual 8–16-byte ids.
#[inline(always)]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if (8..=16).contains(&n) {
        word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8)
    } else {
        a == b
    }
}

impl SpreadTable {
    /// Empties the table and sizes it for `rows` ids (load at most 1/2).
    pub fn reset(&mut self, rows: usize) {
        let want = (rows.max(8) * 2).next_power_of_two();
        if self.buckets.len() == want {
            self.buckets.fill(0);
        } else {
            self.buckets = vec![0; want];
        }
        self.mask = want - 1;
    }

    pub fn capacity(&self) -> usize {
        self.buckets.len()
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        let n = key.len();
        let s = self.seed;
        let (a, b) = if n > 16 {
            let mut h = s;
            let mut at = 0;
            while at + 16 < n {
                h = fold(word(key, at) ^ h, word(key, at + 8) ^ K1);
                at += 16;
            }
            (word(key, n - 16) ^ h, word(key, n - 8))
        } else if n >= 8 {
            (word(key, 0), word(key, n - 8))
        } else if n >= 4 {
            (half(key, 0), half(key, n - 4))
        } else if n > 0 {
            let x = key[0] as u64 | (key[n / 2] as u64) << 8 | (key[n - 1] as u64) << 16;
            (x, 0)
        } else {
            (0, 0)
        };
        fold(a ^ s, b ^ K2 ^ (n as u64).rotate_left(32))
    }

    /// Asks the CPU for the bucket of `hash` ahead of its probe.
    #[inline(always)]
    pub fn prefetch(&self, hash: u64) {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
        if let Some(b) = self.buckets.get(hash as usize & self.mask) {
            // SAFETY: prefetching is a hint that never faults; the address is in the array.
            unsafe {
                use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                _mm_prefetch::<_MM_HINT_T0>(b as *const u64 as *const i8);
            }
        }
        #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
        let _ = hash;
    }

    /// The slot of `key` (whose [`Self::hash`] is `hash`) if present; otherwise records `next`
    /// for it and returns None. `key_of` gives the id of a slot already in the table.
    #[inline(always)]
    pub fn find_or_insert<'a>(
        &mut self,
        hash: u64,
        key: &[u8],
        next: u32,
        key_of: impl Fn(u32) -> &'a [u8],
    ) -> Option<u32> {
        let tag = hash & TAG;
        let mut i = hash as usize & self.mask;
        loop {
            let b = self.buckets[i];
            if b == 0 {
                self.buckets[i] = tag | (next as u64 + 1);
                return None;
            }
            if b & TAG == tag {
                let slot = (b as u32).wrapping_sub(1);
                if same(key_of(slot), key) {
                    return Some(slot);
                }
            }
            i = (i + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_inserted() {
        let ids: Vec<String> = (0..5000)
            .map(|i| match i % 4 {
                0 => format!("{i}"),
                1 => format!("id-{i}"),
                2 => format!("memory-{i}-x"),
                _ => format!("a-rather-long-memory-identifier-{i}"),
            })
            .collect();
        let mut table = SpreadTable::default();
        table.reset(ids.len());
        let key_of = |slot: u32| ids[slot as usize].as_bytes();
        for (i, id) in ids.iter().enumerate() {
            let h = table.hash(id.as_bytes());
            assert_eq!(
                table.find_or_insert(h, id.as_bytes(), i as u32, key_of),
                None
            );
        }
        for (i, id) in ids.iter().enumerate() {
            let h = table.hash(id.as_bytes());
            assert_eq!(
                table.find_or_insert(h, id.as_bytes(), 0, key_of),
                Some(i as u32)
            );
        }
        table.reset(3);
        let h = table.hash(b"");
        assert_eq!(table.find_or_insert(h, b"", 0, key_of), None);
    }

    #[test]
    fn same_is_byte_equality() {
        let keys: [&[u8]; 7] = [
            b"",
            b"a",
            b"abcdefgh",
            b"abcdefgi",
            b"abcdefghijk",
            b"abcdefghijkl",
            b"abcdefghijklmnopqrstu",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(same(a, b), a == b);
            }
        }
    }
}

//! Spread merge: sum the activations of an id across partitions (DESIGN §2, gather-spec).
//!
//! The merge is generic over the float type of the value column: Spread's activations are
//! f32, the pulses of a multi-space Spread ([`crate::pulse`]) are f64. Both sum in f64.

use std::cell::RefCell;

use crate::columns::{
    validate_ids, validate_unit, Column, Float, IdColumn, RawIds, MAX_PARTITION_ROWS,
};
use crate::plan;
use crate::reject::{InputError, Rejection};
use crate::scratch::MAX_RETAINED_SLOTS;

#[path = "spread_table.rs"]
mod table;
use table::{same_middle, Fingerprint, SpreadTable};

/// One partition's activation map, as wire bytes.
#[derive(Clone, Copy, Debug)]
pub struct SpreadPart<'a> {
    pub index: u32,
    pub ids: &'a [u8],
    pub offsets: &'a [u8],
    /// f32 LE per row.
    pub activation: &'a [u8],
}

/// One row per distinct id, in order of first appearance (partition index asc, row asc).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpreadMerged {
    /// Index of the partition where the id first appears.
    pub partition: Vec<u32>,
    /// Row of that first appearance.
    pub row: Vec<u32>,
    /// `min(sum, 1)` of the id's activations, summed in f64 in partition index order.
    pub activation: Vec<f32>,
    pub rejected: Vec<Rejection>,
}

/// A partition of a sum merge: ids and one value column of `Value`, as wire bytes.
pub(crate) trait Summand<'a> {
    type Value: Float;
    /// Name of the value column in messages.
    const COLUMN: &'static str;
    fn ids(&self) -> RawIds<'a>;
    fn values(&self) -> &'a [u8];
}

impl<'a> Summand<'a> for SpreadPart<'a> {
    type Value = f32;
    const COLUMN: &'static str = "activation";
    fn ids(&self) -> RawIds<'a> {
        RawIds {
            index: self.index,
            ids: self.ids,
            offsets: self.offsets,
        }
    }
    fn values(&self) -> &'a [u8] {
        self.activation
    }
}

/// A finished merge, still in the merge's working memory: the caller decides where its
/// columns go (a JS ArrayBuffer, Vecs), so they are written once, straight to their place.
/// `V` is the float type the partitions sent (f32 for Spread, f64 for pulses).
pub struct SpreadOutput<'a, V: Float = f32> {
    valid: &'a [Valid<'a, V>],
    records: &'a [Acc],
    firsts: &'a [First],
    /// Rejected partitions, in ascending partition index.
    pub rejected: Vec<Rejection>,
}

impl<V: Float> SpreadOutput<'_, V> {
    /// Distinct ids: the length of each column.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Index of the partition where each id first appears.
    pub fn partition(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        self.firsts.iter().map(|f| self.valid[f.pos as usize].index)
    }

    /// Row of each id's first appearance.
    pub fn row(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        self.firsts.iter().map(|f| f.row)
    }

    /// Each distinct id's UTF-8 bytes, read where it first appeared.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.firsts.iter().zip(self.records).map(|(f, r)| {
            let blob = self.valid[f.pos as usize].ids.blob();
            &blob[f.start as usize..][..r.len as usize]
        })
    }

    /// Bytes of all distinct ids together.
    pub fn id_bytes(&self) -> usize {
        self.records.iter().map(|r| r.len as usize).sum()
    }

    /// `min(sum, 1)` of each id's values, summed in f64 in partition index order.
    pub fn sums(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        self.records.iter().map(|r| r.sum.min(1.0))
    }
}

impl SpreadOutput<'_, f32> {
    /// `min(sum, 1)` of each id's activations, summed in f64 in partition index order.
    pub fn activation(&self) -> impl ExactSizeIterator<Item = f32> + '_ {
        self.sums().map(|s| s as f32)
    }
}

struct Valid<'a, V> {
    index: u32,
    ids: IdColumn<'a>,
    values: Column<'a, V>,
}

/// Running sum of one distinct id, with the id's fingerprint, so that finding an id and adding
/// to its sum touch one 32-byte record (aligned: one cache line).
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Acc {
    head: u64,
    tail: u64,
    sum: f64,
    len: u32,
    /// Position (in the accepted parts) of the last partition that had this id.
    last: u32,
}

impl Acc {
    #[inline(always)]
    fn has(&self, fp: Fingerprint) -> bool {
        self.head == fp.head && self.tail == fp.tail && self.len == fp.len
    }
}

/// Where a distinct id first appeared: read for the output and to compare ids over 16 bytes.
#[derive(Clone, Copy)]
struct First {
    /// Position of the partition among the accepted ones.
    pos: u32,
    row: u32,
    /// Byte offset of the id in that partition's blob.
    start: u32,
}

/// Per-thread working memory, kept from merge to merge (see [`crate::scratch`]).
#[derive(Default)]
struct Scratch {
    table: SpreadTable,
    records: Vec<Acc>,
    firsts: Vec<First>,
    hashes: Vec<u64>,
}

impl Scratch {
    fn reset(&mut self, rows: usize) {
        self.table.reset(rows);
        self.records.clear();
        self.records.reserve(rows);
        self.firsts.clear();
        self.firsts.reserve(rows);
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Runs `f` with this thread's scratch, emptied and sized for `rows` ids.
fn with_scratch<T>(rows: usize, f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|cell| {
        let mut fresh = None;
        let mut guard = cell.try_borrow_mut().ok();
        let scratch: &mut Scratch = match guard.as_deref_mut() {
            Some(s) => s,
            None => fresh.insert(Scratch::default()),
        };
        scratch.reset(rows);
        let out = f(scratch);
        if scratch.table.capacity() > 2 * MAX_RETAINED_SLOTS
            || scratch.records.capacity() > MAX_RETAINED_SLOTS
        {
            *scratch = Scratch::default();
        }
        out
    })
}

/// Merges the parts; only a duplicate partition index is an error.
pub fn merge_spread(parts: &[SpreadPart<'_>]) -> Result<SpreadMerged, InputError> {
    merge_spread_with(parts, |out| SpreadMerged {
        partition: out.partition().collect(),
        row: out.row().collect(),
        activation: out.activation().collect(),
        rejected: out.rejected,
    })
}

/// Merges the parts and hands the result to `finish`, which writes the columns where they
/// are wanted; only a duplicate partition index is an error.
pub fn merge_spread_with<T>(
    parts: &[SpreadPart<'_>],
    finish: impl FnOnce(SpreadOutput<'_>) -> T,
) -> Result<T, InputError> {
    merge_sums(parts, finish)
}

/// The Spread merge over parts of any [`Summand`] type.
pub(crate) fn merge_sums<'a, P: Summand<'a>, T>(
    parts: &[P],
    finish: impl FnOnce(SpreadOutput<'_, P::Value>) -> T,
) -> Result<T, InputError> {
    let indices: Vec<u32> = parts.iter().map(|p| p.ids().index).collect();
    let order = plan::ascending(&indices)?;
    let mut rejected = Vec::new();
    let mut valid = Vec::with_capacity(parts.len());
    for &p in &order {
        match validate(&parts[p]) {
            Ok(v) => valid.push(v),
            Err(r) => rejected.push(r),
        }
    }
    let rows: usize = valid.iter().map(|v| v.ids.len()).sum();
    Ok(with_scratch(rows, |scratch| {
        // A partition that repeats an id is dropped and the merge runs again without it, so
        // what it contributed before the repeat was seen is undone exactly (no f64 subtraction).
        while let Err((pos, row)) = sum(&valid, scratch) {
            let part = valid.remove(pos);
            rejected.push(Rejection::duplicate_id(part.index, row, part.ids.get(row)));
            scratch.reset(rows);
        }
        rejected.sort_by_key(|r| r.partition);
        finish(SpreadOutput {
            valid: &valid,
            records: &scratch.records,
            firsts: &scratch.firsts,
            rejected,
        })
    }))
}

fn validate<'a, P: Summand<'a>>(part: &P) -> Result<Valid<'a, P::Value>, Rejection> {
    let raw = part.ids();
    let column = [(P::COLUMN, part.values())];
    let (ids, _) = validate_ids::<P::Value>(raw, &column, MAX_PARTITION_ROWS)?;
    let values = validate_unit(raw.index, P::COLUMN, part.values())?;
    Ok(Valid {
        index: raw.index,
        ids,
        values,
    })
}

/// Rows between a bucket's prefetch and its probe.
const AHEAD: usize = 8;

/// One pass over the accepted partitions; `Err((position, row))` names a repeated id.
fn sum<V: Float>(valid: &[Valid<'_, V>], scratch: &mut Scratch) -> Result<(), (usize, usize)> {
    let Scratch {
        table,
        records,
        firsts,
        hashes,
    } = scratch;
    for (pos, part) in valid.iter().enumerate() {
        let pos32 = pos as u32;
        let blob = part.ids.blob();
        // Hashing a whole partition first, in a tight loop of its own, takes the hash off each
        // probe's critical path and lets each probe's bucket be prefetched a few rows ahead.
        hashes.clear();
        hashes.extend(
            part.ids
                .iter()
                .map(|id| table.hash(id, Fingerprint::of(id))),
        );
        for &h in hashes.iter().take(AHEAD) {
            table.prefetch(h);
        }
        let rows = part.ids.spans().zip(part.values.iter());
        for (row, ((start, end), a)) in rows.enumerate() {
            if let Some(&h) = hashes.get(row + AHEAD) {
                table.prefetch(h);
            }
            let key = &blob[start as usize..end as usize];
            let fp = Fingerprint::of(key);
            let next = records.len() as u32;
            let (known, starts) = (&*records, &*firsts);
            let is = |slot: u32| {
                let s = slot as usize;
                known[s].has(fp)
                    && (fp.is_whole() || {
                        let f = starts[s];
                        let first = valid[f.pos as usize].ids.blob();
                        same_middle(&first[f.start as usize..][..key.len()], key)
                    })
            };
            match table.find_or_insert(hashes[row], next, is) {
                None => {
                    records.push(Acc {
                        head: fp.head,
                        tail: fp.tail,
                        sum: a.into(),
                        len: fp.len,
                        last: pos32,
                    });
                    firsts.push(First {
                        pos: pos32,
                        row: row as u32,
                        start,
                    });
                }
                Some(slot) => {
                    let acc = &mut records[slot as usize];
                    if acc.last == pos32 {
                        return Err((pos, row));
                    }
                    acc.last = pos32;
                    acc.sum += a.into();
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::code;
    use crate::testing::{f32s, strings};

    struct Owned(u32, Vec<u8>, Vec<u8>, Vec<u8>);

    fn part(index: u32, rows: &[(&str, f32)]) -> Owned {
        let (ids, offsets) = strings(rows.iter().map(|r| r.0));
        Owned(index, ids, offsets, f32s(rows.iter().map(|r| r.1)))
    }

    fn merge(parts: &[Owned]) -> SpreadMerged {
        let parts: Vec<SpreadPart> = parts
            .iter()
            .map(|o| SpreadPart {
                index: o.0,
                ids: &o.1,
                offsets: &o.2,
                activation: &o.3,
            })
            .collect();
        merge_spread(&parts).unwrap()
    }

    #[test]
    fn activations_of_two_partitions_add_up() {
        let m = merge(&[part(0, &[("a", 0.3)]), part(1, &[("a", 0.2)])]);
        assert_eq!(m.activation, vec![(0.3f32 as f64 + 0.2f32 as f64) as f32]);
        assert!((m.activation[0] - 0.5).abs() < 1e-7);
        assert_eq!((m.partition, m.row), (vec![0], vec![0]));
    }

    #[test]
    fn sum_is_clamped_to_one() {
        let m = merge(&[part(0, &[("a", 0.7)]), part(1, &[("a", 0.6)])]);
        assert_eq!(m.activation, vec![1.0]);
    }

    #[test]
    fn order_is_first_appearance_by_partition_index() {
        // Given out of order: partition 5 first, partition 2 second.
        let m = merge(&[
            part(5, &[("c", 0.1), ("a", 0.1)]),
            part(2, &[("b", 0.2), ("a", 0.2)]),
        ]);
        assert_eq!(m.partition, vec![2, 2, 5]);
        assert_eq!(m.row, vec![0, 1, 0]);
        assert_eq!(m.activation[1], (0.2f32 as f64 + 0.1f32 as f64) as f32);
    }

    #[test]
    fn repeated_id_drops_the_partition_and_reruns() {
        let m = merge(&[
            part(0, &[("a", 0.1)]),
            part(1, &[("b", 0.4), ("a", 0.2), ("a", 0.3)]),
            part(2, &[("b", 0.5)]),
        ]);
        assert_eq!(m.partition, vec![0, 2]);
        assert_eq!(m.activation, vec![0.1, 0.5]);
        assert_eq!(m.rejected.len(), 1);
        assert_eq!(m.rejected[0].code, code::DUPLICATE_ID);
        assert_eq!(m.rejected[0].message, "partition 1: row 2 repeats id \"a\"");
    }

    #[test]
    fn rejections_come_in_partition_order() {
        let mut bad = part(4, &[("x", 0.1)]);
        bad.3.pop();
        let m = merge(&[
            part(9, &[("a", 0.1), ("a", 0.1)]),
            bad,
            part(1, &[("z", 2.0)]),
        ]);
        let got: Vec<_> = m.rejected.iter().map(|r| (r.partition, r.code)).collect();
        assert_eq!(
            got,
            vec![
                (1, code::BAD_VALUE),
                (4, code::COLUMN_LENGTH),
                (9, code::DUPLICATE_ID)
            ]
        );
        assert!(m.partition.is_empty());
    }

    #[test]
    fn duplicate_partition_index_is_an_input_error() {
        let a = part(1, &[]);
        let parts = [
            SpreadPart {
                index: 1,
                ids: &a.1,
                offsets: &a.2,
                activation: &a.3,
            },
            SpreadPart {
                index: 1,
                ids: &a.1,
                offsets: &a.2,
                activation: &a.3,
            },
        ];
        assert!(merge_spread(&parts).is_err());
    }
}

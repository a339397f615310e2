//! Recall merge: one copy per memory id, the most confident one (DESIGN §2, gather-spec).

use std::cell::RefCell;

use crate::columns::{validate_ids, validate_unit, F32Column, IdColumn, RawIds};
use crate::ids::IdAt;
use crate::plan;
use crate::reject::{code, InputError, Rejection};
use crate::scratch::{with_scratch, Scratch};
use crate::text::js_number;

/// One partition's top memories, as wire bytes.
#[derive(Clone, Copy, Debug)]
pub struct RecallPart<'a> {
    pub index: u32,
    pub ids: &'a [u8],
    pub offsets: &'a [u8],
    /// f32 LE per row: lower bound of the confidence interval.
    pub lower: &'a [u8],
    /// f32 LE per row: upper bound.
    pub upper: &'a [u8],
}

/// Winners sorted by `lower` desc, then id asc, cut to `limit`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecallMerged {
    pub partition: Vec<u32>,
    pub row: Vec<u32>,
    pub lower: Vec<f32>,
    pub upper: Vec<f32>,
    pub rejected: Vec<Rejection>,
}

struct Valid<'a> {
    index: u32,
    ids: IdColumn<'a>,
    lower: F32Column<'a>,
    upper: F32Column<'a>,
}

/// The copy of an id that currently wins.
#[derive(Clone, Copy)]
struct Winner {
    lower: f32,
    upper: f32,
    /// The winning copy: where its id's bytes are (which partition) and its row.
    id: IdAt,
    row: u32,
    /// Position (in the accepted parts) of the last partition that had this id.
    last: u32,
}

thread_local! {
    static SCRATCH: RefCell<Scratch<Winner>> = RefCell::default();
}

/// Merges the parts, each capped at `limit` rows; only a duplicate partition index is an error.
pub fn merge_recall(parts: &[RecallPart<'_>], limit: u32) -> Result<RecallMerged, InputError> {
    let indices: Vec<u32> = parts.iter().map(|p| p.index).collect();
    let order = plan::ascending(&indices)?;
    let mut rejected = Vec::new();
    let mut valid = Vec::with_capacity(parts.len());
    for &p in &order {
        match validate(&parts[p], limit as usize) {
            Ok(v) => valid.push(v),
            Err(r) => rejected.push(r),
        }
    }
    let rows: usize = valid.iter().map(|v| v.ids.len()).sum();
    let mut merged = with_scratch(&SCRATCH, rows, |scratch| loop {
        let blobs: Vec<&[u8]> = valid.iter().map(|v| v.ids.blob()).collect();
        match dedup(&valid, &blobs, scratch) {
            Ok(()) => break output(&valid, &blobs, &scratch.records, limit as usize),
            Err((pos, row)) => {
                let part = valid.remove(pos);
                rejected.push(Rejection::duplicate_id(part.index, row, part.ids.get(row)));
                scratch.table.reset(rows);
                scratch.records.clear();
            }
        }
    });
    rejected.sort_by_key(|r| r.partition);
    merged.rejected = rejected;
    Ok(merged)
}

fn validate<'a>(part: &RecallPart<'a>, limit: usize) -> Result<Valid<'a>, Rejection> {
    let raw = RawIds {
        index: part.index,
        ids: part.ids,
        offsets: part.offsets,
    };
    let columns = [("lower", part.lower), ("upper", part.upper)];
    let (ids, _) = validate_ids::<f32>(raw, &columns, limit)?;
    let lower = validate_unit(part.index, "lower", part.lower)?;
    let upper = validate_unit(part.index, "upper", part.upper)?;
    let inverted = lower.iter().zip(upper.iter()).position(|(l, u)| l > u);
    if let Some(row) = inverted {
        let (l, u) = (
            js_number(lower.get(row) as f64),
            js_number(upper.get(row) as f64),
        );
        let problem = format!("lower[{row}]={l} > upper[{row}]={u}");
        return Err(Rejection::new(part.index, code::BAD_VALUE, problem));
    }
    Ok(Valid {
        ids,
        lower,
        upper,
        index: part.index,
    })
}

/// Keeps the best copy of every id (slot order = first appearance); `Err((position, row))`
/// names an id repeated within one partition.
fn dedup(
    valid: &[Valid<'_>],
    blobs: &[&[u8]],
    scratch: &mut Scratch<Winner>,
) -> Result<(), (usize, usize)> {
    let Scratch { table, records } = scratch;
    for (pos, part) in valid.iter().enumerate() {
        let pos32 = pos as u32;
        let blob = blobs[pos];
        let values = part.lower.iter().zip(part.upper.iter());
        for (row, ((start, end), (lower, upper))) in part.ids.spans().zip(values).enumerate() {
            let key = &blob[start as usize..end as usize];
            let id = IdAt {
                pos: pos32,
                start,
                end,
            };
            let copy = Winner {
                lower,
                upper,
                id,
                row: row as u32,
                last: pos32,
            };
            let known = &*records;
            let next = known.len() as u32;
            let Some(slot) = table.find_or_insert(key, next, |s| known[s as usize].id.bytes(blobs))
            else {
                records.push(copy);
                continue;
            };
            let best = &mut records[slot as usize];
            if best.last == pos32 {
                return Err((pos, row));
            }
            best.last = pos32;
            // Partitions come in ascending index, so on a full tie the earlier copy stays.
            if lower > best.lower || (lower == best.lower && upper > best.upper) {
                *best = copy;
            }
        }
    }
    Ok(())
}

/// Sort key of `lower`: ascending key = descending `lower` (-0 ranks as 0; inputs are never NaN).
#[inline]
fn rank_of(lower: f32) -> u32 {
    let bits = (lower + 0.0).to_bits();
    let ordered = if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    };
    !ordered
}

/// The first `limit` winners by `lower` desc, id asc, as output columns.
///
/// Sorts `rank << 32 | winner index` as plain u64 (no id bytes touched), then orders each run of
/// equal `lower` by id; with `limit` below the winner count a selection first keeps every winner
/// that ranks at or above the cut.
fn output(valid: &[Valid<'_>], blobs: &[&[u8]], winners: &[Winner], limit: usize) -> RecallMerged {
    let mut keys: Vec<u64> = winners
        .iter()
        .enumerate()
        .map(|(i, w)| (rank_of(w.lower) as u64) << 32 | i as u64)
        .collect();
    if keys.len() > limit {
        if limit == 0 {
            keys.clear();
        } else {
            keys.select_nth_unstable(limit - 1);
            let cut = keys[limit - 1] >> 32;
            // Everything ranked strictly above the cut is in the first `limit`; the cut's tie
            // run can straddle it, so all of its members compete by id below.
            keys.retain(|k| k >> 32 <= cut);
        }
    }
    keys.sort_unstable();
    let id_of = |k: u64| winners[k as u32 as usize].id.bytes(blobs);
    let mut start = 0;
    while start < keys.len() {
        let rank = keys[start] >> 32;
        let mut end = start + 1;
        while end < keys.len() && keys[end] >> 32 == rank {
            end += 1;
        }
        if end - start > 1 {
            // Ids are distinct, so this order is total and an unstable sort is deterministic.
            keys[start..end].sort_unstable_by(|&a, &b| id_of(a).cmp(id_of(b)));
        }
        start = end;
    }
    keys.truncate(limit);
    let top = keys.iter().map(|&k| &winners[k as u32 as usize]);
    RecallMerged {
        partition: top
            .clone()
            .map(|w| valid[w.id.pos as usize].index)
            .collect(),
        row: top.clone().map(|w| w.row).collect(),
        lower: top.clone().map(|w| w.lower).collect(),
        upper: top.map(|w| w.upper).collect(),
        rejected: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{f32s, strings};

    struct Owned(u32, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

    fn part(index: u32, rows: &[(&str, f32, f32)]) -> Owned {
        let (ids, offsets) = strings(rows.iter().map(|r| r.0));
        Owned(
            index,
            ids,
            offsets,
            f32s(rows.iter().map(|r| r.1)),
            f32s(rows.iter().map(|r| r.2)),
        )
    }

    fn merge(parts: &[Owned], limit: u32) -> RecallMerged {
        let parts: Vec<RecallPart> = parts
            .iter()
            .map(|o| RecallPart {
                index: o.0,
                ids: &o.1,
                offsets: &o.2,
                lower: &o.3,
                upper: &o.4,
            })
            .collect();
        merge_recall(&parts, limit).unwrap()
    }

    #[test]
    fn keeps_the_more_confident_copy_whichever_arrives_first() {
        let weak = part(0, &[("m", 0.2, 0.3)]);
        let strong = part(1, &[("m", 0.6, 0.7)]);
        for parts in [
            [weak, strong],
            [part(1, &[("m", 0.6, 0.7)]), part(0, &[("m", 0.2, 0.3)])],
        ] {
            let m = merge(&parts, 10);
            assert_eq!(
                (m.partition, m.row, m.lower, m.upper),
                (vec![1], vec![0], vec![0.6], vec![0.7])
            );
        }
    }

    #[test]
    fn ties_go_to_higher_upper_then_lower_partition_index() {
        let m = merge(
            &[part(3, &[("m", 0.5, 0.9)]), part(1, &[("m", 0.5, 0.6)])],
            10,
        );
        assert_eq!((m.partition, m.upper), (vec![3], vec![0.9]));
        let m = merge(
            &[part(3, &[("m", 0.5, 0.6)]), part(1, &[("m", 0.5, 0.6)])],
            10,
        );
        assert_eq!(m.partition, vec![1]);
    }

    #[test]
    fn sorted_by_lower_desc_then_id_and_cut() {
        let m = merge(
            &[
                part(0, &[("b", 0.5, 0.5), ("c", 0.9, 1.0)]),
                part(1, &[("a", 0.5, 0.6), ("d", 0.1, 0.2)]),
            ],
            3,
        );
        assert_eq!(m.lower, vec![0.9, 0.5, 0.5]);
        assert_eq!((m.partition, m.row), (vec![0, 1, 0], vec![1, 0, 0]));
    }

    #[test]
    fn limit_caps_each_partition_and_the_output() {
        let m = merge(
            &[
                part(0, &[("a", 0.5, 0.5), ("b", 0.4, 0.5)]),
                part(1, &[("c", 0.9, 0.9)]),
            ],
            1,
        );
        assert_eq!(m.rejected.len(), 1);
        assert_eq!(
            (m.rejected[0].partition, m.rejected[0].code),
            (0, code::TOO_LARGE)
        );
        assert_eq!(m.partition, vec![1]);
        let m = merge(&[part(0, &[])], 0);
        assert!(m.partition.is_empty() && m.rejected.is_empty());
    }

    #[test]
    fn lower_above_upper_is_a_bad_value() {
        let m = merge(&[part(2, &[("a", 0.5, 0.4)])], 5);
        assert_eq!(m.rejected[0].code, code::BAD_VALUE);
        assert_eq!(
            m.rejected[0].message,
            "partition 2: lower[0]=0.5 > upper[0]=0.4000000059604645"
        );
    }

    #[test]
    fn repeated_id_drops_the_partition() {
        let m = merge(
            &[
                part(0, &[("a", 0.1, 0.2)]),
                part(1, &[("a", 0.9, 0.9), ("a", 0.8, 0.9)]),
            ],
            5,
        );
        assert_eq!((m.partition, m.lower), (vec![0], vec![0.1]));
        assert_eq!(m.rejected[0].code, code::DUPLICATE_ID);
    }

    #[test]
    fn a_tie_run_across_the_cut_is_ordered_by_id() {
        let m = merge(
            &[
                part(0, &[("e", 0.5, 0.5), ("c", 0.5, 0.5), ("z", 0.9, 0.9)]),
                part(1, &[("d", 0.5, 0.5), ("b", 0.5, 0.5), ("a", 0.1, 0.2)]),
            ],
            3,
        );
        assert_eq!((m.partition, m.row), (vec![0, 1, 0], vec![2, 1, 1]));
        let m = merge(&[part(0, &[("b", 0.0, 0.1), ("a", -0.0, 0.1)])], 2);
        assert_eq!(m.row, vec![1, 0]);
    }
}

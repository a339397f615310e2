//! Recall merge: one copy per memory id, the most confident one (DESIGN §2, gather-spec).

use std::cmp::Ordering;

use crate::columns::{validate_ids, validate_unit, F32Column, IdColumn, RawIds};
use crate::ids::IdMap;
use crate::plan;
use crate::reject::{code, InputError, Rejection};
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
    partition: u32,
    row: u32,
    lower: f32,
    upper: f32,
    /// Position (in the accepted parts) of the last partition that had this id.
    last: u32,
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
    let mut map = IdMap::with_capacity(rows);
    let mut winners = Vec::with_capacity(rows);
    loop {
        map.clear();
        winners.clear();
        match dedup(&valid, &mut map, &mut winners) {
            Ok(()) => break,
            Err((pos, row)) => {
                let part = valid.remove(pos);
                rejected.push(Rejection::duplicate_id(part.index, row, part.ids.get(row)));
            }
        }
    }
    rejected.sort_by_key(|r| r.partition);
    let top = top(&map, &winners, limit as usize);
    Ok(RecallMerged {
        partition: top.iter().map(|&s| winners[s as usize].partition).collect(),
        row: top.iter().map(|&s| winners[s as usize].row).collect(),
        lower: top.iter().map(|&s| winners[s as usize].lower).collect(),
        upper: top.iter().map(|&s| winners[s as usize].upper).collect(),
        rejected,
    })
}

fn validate<'a>(part: &RecallPart<'a>, limit: usize) -> Result<Valid<'a>, Rejection> {
    let raw = RawIds { index: part.index, ids: part.ids, offsets: part.offsets };
    let columns = [("lower", part.lower), ("upper", part.upper)];
    let (ids, _) = validate_ids(raw, &columns, limit)?;
    let lower = validate_unit(part.index, "lower", part.lower)?;
    let upper = validate_unit(part.index, "upper", part.upper)?;
    let inverted = lower.iter().zip(upper.iter()).position(|(l, u)| l > u);
    if let Some(row) = inverted {
        let (l, u) = (js_number(lower.get(row) as f64), js_number(upper.get(row) as f64));
        let problem = format!("lower[{row}]={l} > upper[{row}]={u}");
        return Err(Rejection::new(part.index, code::BAD_VALUE, problem));
    }
    Ok(Valid { index: part.index, ids, lower, upper })
}

/// Keeps the best copy of every id (slot order = first appearance); `Err((position, row))`
/// names an id repeated within one partition.
fn dedup<'a>(valid: &[Valid<'a>], map: &mut IdMap<'a>, winners: &mut Vec<Winner>) -> Result<(), (usize, usize)> {
    for (pos, part) in valid.iter().enumerate() {
        let pos32 = pos as u32;
        let values = part.lower.iter().zip(part.upper.iter());
        for (row, (id, (lower, upper))) in part.ids.iter().zip(values).enumerate() {
            let copy = Winner { partition: part.index, row: row as u32, lower, upper, last: pos32 };
            let (slot, inserted) = map.intern(id);
            if inserted {
                winners.push(copy);
                continue;
            }
            let best = &mut winners[slot as usize];
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

/// Slots of the first `limit` winners by `lower` desc, id asc.
fn top(map: &IdMap<'_>, winners: &[Winner], limit: usize) -> Vec<u32> {
    // Ids are distinct, so this order is total and an unstable sort is deterministic.
    let by_rank = |&a: &u32, &b: &u32| -> Ordering {
        let (wa, wb) = (&winners[a as usize], &winners[b as usize]);
        match wb.lower.partial_cmp(&wa.lower) {
            Some(Ordering::Equal) | None => map.key(a).cmp(map.key(b)),
            Some(order) => order,
        }
    };
    let mut slots: Vec<u32> = (0..winners.len() as u32).collect();
    if slots.len() > limit {
        if limit > 0 {
            slots.select_nth_unstable_by(limit - 1, by_rank);
        }
        slots.truncate(limit);
    }
    slots.sort_unstable_by(by_rank);
    slots
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{f32s, strings};

    struct Owned(u32, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

    fn part(index: u32, rows: &[(&str, f32, f32)]) -> Owned {
        let (ids, offsets) = strings(rows.iter().map(|r| r.0));
        Owned(index, ids, offsets, f32s(rows.iter().map(|r| r.1)), f32s(rows.iter().map(|r| r.2)))
    }

    fn merge(parts: &[Owned], limit: u32) -> RecallMerged {
        let parts: Vec<RecallPart> = parts
            .iter()
            .map(|o| RecallPart { index: o.0, ids: &o.1, offsets: &o.2, lower: &o.3, upper: &o.4 })
            .collect();
        merge_recall(&parts, limit).unwrap()
    }

    #[test]
    fn keeps_the_more_confident_copy_whichever_arrives_first() {
        let weak = part(0, &[("m", 0.2, 0.3)]);
        let strong = part(1, &[("m", 0.6, 0.7)]);
        for parts in [[weak, strong], [part(1, &[("m", 0.6, 0.7)]), part(0, &[("m", 0.2, 0.3)])]] {
            let m = merge(&parts, 10);
            assert_eq!((m.partition, m.row, m.lower, m.upper), (vec![1], vec![0], vec![0.6], vec![0.7]));
        }
    }

    #[test]
    fn ties_go_to_higher_upper_then_lower_partition_index() {
        let m = merge(&[part(3, &[("m", 0.5, 0.9)]), part(1, &[("m", 0.5, 0.6)])], 10);
        assert_eq!((m.partition, m.upper), (vec![3], vec![0.9]));
        let m = merge(&[part(3, &[("m", 0.5, 0.6)]), part(1, &[("m", 0.5, 0.6)])], 10);
        assert_eq!(m.partition, vec![1]);
    }

    #[test]
    fn sorted_by_lower_desc_then_id_and_cut() {
        let m = merge(
            &[part(0, &[("b", 0.5, 0.5), ("c", 0.9, 1.0)]), part(1, &[("a", 0.5, 0.6), ("d", 0.1, 0.2)])],
            3,
        );
        assert_eq!(m.lower, vec![0.9, 0.5, 0.5]);
        assert_eq!((m.partition, m.row), (vec![0, 1, 0], vec![1, 0, 0]));
    }

    #[test]
    fn limit_caps_each_partition_and_the_output() {
        let m = merge(&[part(0, &[("a", 0.5, 0.5), ("b", 0.4, 0.5)]), part(1, &[("c", 0.9, 0.9)])], 1);
        assert_eq!(m.rejected.len(), 1);
        assert_eq!((m.rejected[0].partition, m.rejected[0].code), (0, code::TOO_LARGE));
        assert_eq!(m.partition, vec![1]);
        let m = merge(&[part(0, &[])], 0);
        assert!(m.partition.is_empty() && m.rejected.is_empty());
    }

    #[test]
    fn lower_above_upper_is_a_bad_value() {
        let m = merge(&[part(2, &[("a", 0.5, 0.4)])], 5);
        assert_eq!(m.rejected[0].code, code::BAD_VALUE);
        assert_eq!(m.rejected[0].message, "partition 2: lower[0]=0.5 > upper[0]=0.4000000059604645");
    }

    #[test]
    fn repeated_id_drops_the_partition() {
        let m = merge(&[part(0, &[("a", 0.1, 0.2)]), part(1, &[("a", 0.9, 0.9), ("a", 0.8, 0.9)])], 5);
        assert_eq!((m.partition, m.lower), (vec![0], vec![0.1]));
        assert_eq!(m.rejected[0].code, code::DUPLICATE_ID);
    }
}

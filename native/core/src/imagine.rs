//! Imagine merge: every generated item of every partition, most confident first.

use std::cell::RefCell;

use crate::columns::{validate_ids, validate_unit, F32Column, IdColumn, RawIds};
use crate::plan;
use crate::reject::{InputError, Rejection};
use crate::scratch::{with_scratch, Scratch};

/// One partition's generated items, as wire bytes.
#[derive(Clone, Copy, Debug)]
pub struct ImaginePart<'a> {
    pub index: u32,
    pub ids: &'a [u8],
    pub offsets: &'a [u8],
    /// f32 LE per row.
    pub confidence: &'a [u8],
}

/// All accepted rows by confidence desc, then partition index asc, then row asc.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImagineMerged {
    pub partition: Vec<u32>,
    pub row: Vec<u32>,
    pub confidence: Vec<f32>,
    pub rejected: Vec<Rejection>,
}

struct Valid<'a> {
    index: u32,
    ids: IdColumn<'a>,
    confidence: F32Column<'a>,
}

/// Merges the parts, each capped at `max_rows`; only a duplicate partition index is an error.
pub fn merge_imagine(
    parts: &[ImaginePart<'_>],
    max_rows: u32,
) -> Result<ImagineMerged, InputError> {
    let indices: Vec<u32> = parts.iter().map(|p| p.index).collect();
    let order = plan::ascending(&indices)?;
    let mut rejected = Vec::new();
    let mut valid = Vec::with_capacity(parts.len());
    for &p in &order {
        match validate(&parts[p], max_rows as usize) {
            Ok(v) => valid.push(v),
            Err(r) => rejected.push(r),
        }
    }
    // Partitions do not interact here, so dropping one that repeats an id is the whole re-run.
    let mut repeats = Vec::new();
    for (pos, part) in valid.iter().enumerate() {
        if let Some(row) = repeated_row(part.ids) {
            repeats.push(pos);
            rejected.push(Rejection::duplicate_id(part.index, row, part.ids.get(row)));
        }
    }
    for &pos in repeats.iter().rev() {
        valid.remove(pos);
    }
    rejected.sort_by_key(|r| r.partition);

    let rows: usize = valid.iter().map(|v| v.ids.len()).sum();
    let mut items: Vec<(f32, u32, u32)> = Vec::with_capacity(rows);
    for part in &valid {
        items.extend(
            part.confidence
                .iter()
                .enumerate()
                .map(|(row, c)| (c, part.index, row as u32)),
        );
    }
    // Items are generated in (partition, row) order, so a stable sort on confidence alone
    // keeps that order among equal confidences.
    items.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    Ok(ImagineMerged {
        partition: items.iter().map(|i| i.1).collect(),
        row: items.iter().map(|i| i.2).collect(),
        confidence: items.iter().map(|i| i.0).collect(),
        rejected,
    })
}

fn validate<'a>(part: &ImaginePart<'a>, max_rows: usize) -> Result<Valid<'a>, Rejection> {
    let raw = RawIds {
        index: part.index,
        ids: part.ids,
        offsets: part.offsets,
    };
    let (ids, _) = validate_ids::<f32>(raw, &[("confidence", part.confidence)], max_rows)?;
    let confidence = validate_unit(part.index, "confidence", part.confidence)?;
    Ok(Valid {
        index: part.index,
        ids,
        confidence,
    })
}

thread_local! {
    static SCRATCH: RefCell<Scratch<(u32, u32)>> = RefCell::default();
}

/// First row whose id already appeared in the same partition.
fn repeated_row(ids: IdColumn<'_>) -> Option<usize> {
    let blob = ids.blob();
    with_scratch(
        &SCRATCH,
        ids.len(),
        |Scratch {
             table,
             records: spans,
         }| {
            ids.spans().position(|(start, end)| {
                let known = &*spans;
                let key_of = |s: u32| {
                    let (a, b) = known[s as usize];
                    &blob[a as usize..b as usize]
                };
                let key = &blob[start as usize..end as usize];
                let repeated = table
                    .find_or_insert(key, known.len() as u32, key_of)
                    .is_some();
                if !repeated {
                    spans.push((start, end));
                }
                repeated
            })
        },
    )
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

    fn merge(parts: &[Owned], max_rows: u32) -> ImagineMerged {
        let parts: Vec<ImaginePart> = parts
            .iter()
            .map(|o| ImaginePart {
                index: o.0,
                ids: &o.1,
                offsets: &o.2,
                confidence: &o.3,
            })
            .collect();
        merge_imagine(&parts, max_rows).unwrap()
    }

    #[test]
    fn concatenates_and_sorts_by_confidence_then_partition_then_row() {
        let m = merge(
            &[
                part(7, &[("x", 0.5), ("y", 0.9)]),
                part(2, &[("x", 0.5), ("z", 0.5)]),
            ],
            10,
        );
        assert_eq!(m.confidence, vec![0.9, 0.5, 0.5, 0.5]);
        assert_eq!(m.partition, vec![7, 2, 2, 7]);
        assert_eq!(m.row, vec![1, 0, 1, 0]);
    }

    #[test]
    fn max_rows_caps_a_partition() {
        let m = merge(
            &[part(0, &[("a", 0.1), ("b", 0.2)]), part(1, &[("c", 0.3)])],
            1,
        );
        assert_eq!(m.rejected[0].code, code::TOO_LARGE);
        assert_eq!(m.partition, vec![1]);
    }

    #[test]
    fn repeated_id_in_one_partition_drops_it() {
        let m = merge(
            &[part(0, &[("a", 0.1), ("a", 0.2)]), part(1, &[("a", 0.3)])],
            5,
        );
        assert_eq!(m.rejected[0].code, code::DUPLICATE_ID);
        assert_eq!((m.partition, m.confidence), (vec![1], vec![0.3]));
    }
}

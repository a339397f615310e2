//! Property tests: the merges against a naive model of docs/gather-spec.md written with
//! String keys and ordered maps, on random partitions with cross-partition repeats, empty
//! partitions, tied values, multi-byte ids, corrupted columns and shuffled input order. The
//! pulse merge runs on the same partitions with f64 values of its own.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use engram_core::{
    code, merge_imagine, merge_pulses, merge_recall, merge_spread, ImaginePart, PulsePart,
    RecallPart, Rejection, SpreadPart, MAX_PARTITION_ROWS,
};
use proptest::prelude::*;

/// (partition, row, value bits) per output row, and (partition, code) per rejection.
type Rows = Vec<(u32, u32, u32)>;
type RecallRow = (u32, u32, u32, u32);
type Codes = Vec<(u32, &'static str)>;
/// A copy of a Recall row: (partition, row, lower, upper).
type Copy4 = (u32, u32, f32, f32);

/// How a generated partition is damaged on the wire, if at all.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Damage {
    None,
    OddOffsets,
    ShortColumn,
    LastOffset,
    BadUtf8,
    BadValue,
}

#[derive(Clone, Debug)]
struct Part {
    index: u32,
    /// (id, first value, second value); the second is used by Recall only (upper >= first).
    rows: Vec<(String, f32, f32)>,
    damage: Damage,
}

/// Wire columns of a part: ids blob, offsets, first value column, second value column.
struct Wire(u32, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

fn encode(p: &Part) -> Wire {
    let mut blob = Vec::new();
    let mut offsets = vec![0u8; 4];
    for (id, _, _) in &p.rows {
        blob.extend_from_slice(id.as_bytes());
        offsets.extend((blob.len() as u32).to_le_bytes());
    }
    if p.rows.is_empty() {
        offsets.clear();
    }
    let mut first: Vec<u8> = p.rows.iter().flat_map(|r| r.1.to_le_bytes()).collect();
    let mut second: Vec<u8> = p.rows.iter().flat_map(|r| r.2.to_le_bytes()).collect();
    match p.damage {
        Damage::None => {}
        Damage::OddOffsets => offsets.push(0),
        Damage::ShortColumn => {
            first.truncate(first.len().saturating_sub(4));
            second.truncate(second.len().saturating_sub(4));
            if p.rows.is_empty() {
                first.extend([0; 4]);
                second.extend([0; 4]);
            }
        }
        Damage::LastOffset => {
            let at = offsets.len() - 4;
            let last = u32::from_le_bytes(offsets[at..].try_into().unwrap()) + 1;
            offsets[at..].copy_from_slice(&last.to_le_bytes());
        }
        Damage::BadUtf8 => blob[0] = 0xFF,
        Damage::BadValue => {
            let at = first.len() - 4;
            first[at..].copy_from_slice(&f32::NAN.to_le_bytes());
        }
    }
    Wire(p.index, blob, offsets, first, second)
}

/// Wire columns of a part sending f64 `values` (one per row) instead of its f32 ones, with the
/// same damage at 8 bytes a row; the second value column is left empty.
fn encode_pulses(p: &Part, values: &[f64]) -> Wire {
    let Wire(index, blob, offsets, _, _) = encode(&Part {
        damage: match p.damage {
            Damage::ShortColumn | Damage::BadValue => Damage::None,
            d => d,
        },
        ..p.clone()
    });
    let mut column: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    match p.damage {
        Damage::ShortColumn if values.is_empty() => column.extend([0; 8]),
        Damage::ShortColumn => column.truncate(column.len() - 8),
        Damage::BadValue => {
            let at = column.len() - 8;
            column[at..].copy_from_slice(&f64::NAN.to_le_bytes());
        }
        _ => {}
    }
    Wire(index, blob, offsets, column, Vec::new())
}

/// The spec's rejection code for a part, or None when it is accepted.
fn model_code(p: &Part, cap: usize) -> Option<&'static str> {
    let distinct: BTreeSet<&str> = p.rows.iter().map(|r| r.0.as_str()).collect();
    match p.damage {
        Damage::OddOffsets => Some(code::BAD_OFFSETS),
        _ if p.rows.len() > cap => Some(code::TOO_LARGE),
        Damage::ShortColumn => Some(code::COLUMN_LENGTH),
        Damage::LastOffset => Some(code::BAD_OFFSETS),
        Damage::BadUtf8 => Some(code::BAD_UTF8),
        Damage::BadValue => Some(code::BAD_VALUE),
        Damage::None if distinct.len() < p.rows.len() => Some(code::DUPLICATE_ID),
        Damage::None => None,
    }
}

/// Accepted parts in ascending index, and the (partition, code) of the others.
fn model_split(parts: &[Part], cap: usize) -> (Vec<&Part>, Codes) {
    let mut sorted: Vec<&Part> = parts.iter().collect();
    sorted.sort_by_key(|p| p.index);
    let mut rejected = Vec::new();
    let mut accepted = Vec::new();
    for p in sorted {
        match model_code(p, cap) {
            Some(c) => rejected.push((p.index, c)),
            None => accepted.push(p),
        }
    }
    (accepted, rejected)
}

fn codes(rejected: &[Rejection]) -> Codes {
    rejected.iter().map(|r| (r.partition, r.code)).collect()
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

fn model_spread(parts: &[Part]) -> (Rows, Codes) {
    let (accepted, rejected) = model_split(parts, MAX_PARTITION_ROWS);
    let mut first: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
    let mut order = Vec::new();
    for p in accepted {
        for (row, (id, a, _)) in p.rows.iter().enumerate() {
            if !first.contains_key(id.as_str()) {
                first.insert(id, (p.index, row as u32));
                sums.insert(id, *a as f64);
                order.push(id.as_str());
            } else {
                *sums.get_mut(id.as_str()).unwrap() += *a as f64;
            }
        }
    }
    let rows = order
        .iter()
        .map(|id| {
            let (partition, row) = first[id];
            (partition, row, (sums[id].min(1.0) as f32).to_bits())
        })
        .collect();
    (rows, rejected)
}

/// (id bytes, value bits) per output row of a pulse merge.
type Pulses = Vec<(Vec<u8>, u64)>;

/// Pulse values of row `row` of the `k`-th generated part, drawn from `pool`.
fn pulse_of(pool: &[f64], k: usize, row: usize) -> f64 {
    pool[(k * 12 + row) % pool.len()]
}

fn model_pulses(parts: &[Part], pool: &[f64]) -> (Pulses, Codes) {
    let (accepted, rejected) = model_split(parts, MAX_PARTITION_ROWS);
    let position = |p: &Part| parts.iter().position(|q| q.index == p.index).unwrap();
    let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
    let mut order = Vec::new();
    for p in accepted {
        let k = position(p);
        for (row, (id, _, _)) in p.rows.iter().enumerate() {
            let v = pulse_of(pool, k, row);
            match sums.get_mut(id.as_str()) {
                Some(sum) => *sum += v,
                None => {
                    sums.insert(id, v);
                    order.push(id.as_str());
                }
            }
        }
    }
    let rows = order
        .iter()
        .map(|id| (id.as_bytes().to_vec(), sums[id].min(1.0).to_bits()))
        .collect();
    (rows, rejected)
}

fn run_pulses(parts: &[Part], pool: &[f64]) -> (Pulses, Codes) {
    let wire: Vec<Wire> = parts
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let values: Vec<f64> = (0..p.rows.len()).map(|r| pulse_of(pool, k, r)).collect();
            encode_pulses(p, &values)
        })
        .collect();
    let parts: Vec<PulsePart> = wire
        .iter()
        .map(|w| PulsePart {
            index: w.0,
            ids: &w.1,
            offsets: &w.2,
            values: &w.3,
        })
        .collect();
    let m = merge_pulses(&parts).unwrap();
    assert_eq!(m.offsets.len(), m.values.len() + 1);
    assert_eq!(m.offsets.last().map(|&o| o as usize), Some(m.ids.len()));
    let rows = m
        .offsets
        .windows(2)
        .zip(&m.values)
        .map(|(w, v)| (m.ids[w[0] as usize..w[1] as usize].to_vec(), v.to_bits()))
        .collect();
    (rows, codes(&m.rejected))
}

fn model_recall(parts: &[Part], limit: u32) -> (Vec<RecallRow>, Codes) {
    let (accepted, rejected) = model_split(parts, limit as usize);
    let mut copies: BTreeMap<&str, Vec<Copy4>> = BTreeMap::new();
    for p in accepted {
        for (row, (id, lower, upper)) in p.rows.iter().enumerate() {
            copies
                .entry(id)
                .or_default()
                .push((p.index, row as u32, *lower, *upper));
        }
    }
    let better = |a: &Copy4, b: &Copy4| -> bool {
        // Is `a` a better copy than `b`? Highest lower, then highest upper, then lowest index.
        match a.2.partial_cmp(&b.2).unwrap() {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => match a.3.partial_cmp(&b.3).unwrap() {
                Ordering::Greater => true,
                Ordering::Less => false,
                Ordering::Equal => a.0 < b.0,
            },
        }
    };
    let mut winners: Vec<(&str, Copy4)> = copies
        .iter()
        .map(|(id, cs)| {
            let mut best = cs[0];
            for c in &cs[1..] {
                if better(c, &best) {
                    best = *c;
                }
            }
            (*id, best)
        })
        .collect();
    winners.sort_by(|a, b| {
        b.1 .2
            .partial_cmp(&a.1 .2)
            .unwrap()
            .then_with(|| a.0.cmp(b.0))
    });
    winners.truncate(limit as usize);
    let rows = winners
        .iter()
        .map(|(_, w)| (w.0, w.1, w.2.to_bits(), w.3.to_bits()))
        .collect();
    (rows, rejected)
}

fn model_imagine(parts: &[Part], max_rows: u32) -> (Rows, Codes) {
    let (accepted, rejected) = model_split(parts, max_rows as usize);
    let mut items: Vec<(f32, u32, u32)> = Vec::new();
    for p in accepted {
        for (row, (_, c, _)) in p.rows.iter().enumerate() {
            items.push((*c, p.index, row as u32));
        }
    }
    items.sort_by(|a, b| {
        b.0.partial_cmp(&a.0)
            .unwrap()
            .then(a.1.cmp(&b.1))
            .then(a.2.cmp(&b.2))
    });
    (
        items.iter().map(|i| (i.1, i.2, i.0.to_bits())).collect(),
        rejected,
    )
}

fn run_spread(wire: &[Wire]) -> (Rows, Codes) {
    let parts: Vec<SpreadPart> = wire
        .iter()
        .map(|w| SpreadPart {
            index: w.0,
            ids: &w.1,
            offsets: &w.2,
            activation: &w.3,
        })
        .collect();
    let m = merge_spread(&parts).unwrap();
    let a = bits(&m.activation);
    (
        m.partition
            .iter()
            .zip(&m.row)
            .zip(&a)
            .map(|((p, r), a)| (*p, *r, *a))
            .collect(),
        codes(&m.rejected),
    )
}

fn run_recall(wire: &[Wire], limit: u32) -> (Vec<RecallRow>, Codes) {
    let parts: Vec<RecallPart> = wire
        .iter()
        .map(|w| RecallPart {
            index: w.0,
            ids: &w.1,
            offsets: &w.2,
            lower: &w.3,
            upper: &w.4,
        })
        .collect();
    let m = merge_recall(&parts, limit).unwrap();
    let (l, u) = (bits(&m.lower), bits(&m.upper));
    let rows = (0..m.row.len())
        .map(|i| (m.partition[i], m.row[i], l[i], u[i]))
        .collect();
    (rows, codes(&m.rejected))
}

fn run_imagine(wire: &[Wire], max_rows: u32) -> (Rows, Codes) {
    let parts: Vec<ImaginePart> = wire
        .iter()
        .map(|w| ImaginePart {
            index: w.0,
            ids: &w.1,
            offsets: &w.2,
            confidence: &w.3,
        })
        .collect();
    let m = merge_imagine(&parts, max_rows).unwrap();
    let c = bits(&m.confidence);
    let rows = (0..m.row.len())
        .map(|i| (m.partition[i], m.row[i], c[i]))
        .collect();
    (rows, codes(&m.rejected))
}

/// Short ids over a small alphabet of 1- to 4-byte characters, so ids repeat often.
fn id() -> impl Strategy<Value = String> {
    let short = prop::collection::vec(
        prop::sample::select(vec!["a", "b", "é", "中", "😀", "\u{0}"]),
        0..3,
    );
    // Ids over 16 bytes that share their first and last 8 bytes and differ in between: the
    // native merges compare such ids past a fingerprint of their ends.
    let long = prop::collection::vec(prop::sample::select(vec!["memory-id-", "a", "é"]), 2..5);
    prop_oneof![4 => short, 1 => long].prop_map(|cs| cs.concat())
}

/// Values with many ties (including -0) and some arbitrary ones.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        3 => prop::sample::select(vec![0.0f32, -0.0, 0.25, 0.5, 1.0, 0.3]),
        1 => 0.0f32..=1.0,
    ]
}

/// f64 pulses: ties (including -0), sums that f32 would round (0.1 + 0.2), arbitrary values.
fn pulse_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => prop::sample::select(vec![0.0f64, -0.0, 0.1, 0.2, 0.3, 0.5, 1.0]),
        2 => 0.0f64..=1.0,
    ]
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        12 => Just(Damage::None),
        1 => Just(Damage::OddOffsets),
        1 => Just(Damage::ShortColumn),
        1 => Just(Damage::LastOffset),
        1 => Just(Damage::BadUtf8),
        1 => Just(Damage::BadValue),
    ]
}

fn rows() -> impl Strategy<Value = Vec<(String, f32, f32)>> {
    let row = (id(), value(), value()).prop_map(|(id, a, b)| {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        (id, lo, hi)
    });
    // Mostly distinct ids within a partition; sometimes keep the repeats (DUPLICATE_ID).
    (
        prop::collection::vec(row, 0..12),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(rows, keep_repeats)| {
            if keep_repeats {
                return rows;
            }
            let mut seen = BTreeSet::new();
            rows.into_iter()
                .filter(|r| seen.insert(r.0.clone()))
                .collect()
        })
}

/// Parts with distinct indices, in a random order.
fn parts() -> impl Strategy<Value = Vec<Part>> {
    (
        prop::collection::btree_set(0u32..40, 0..7),
        prop::collection::vec((rows(), damage()), 7),
    )
        .prop_map(|(indices, bodies)| {
            indices
                .into_iter()
                .zip(bodies)
                .map(|(index, (rows, d))| {
                    // Some damage needs bytes to damage.
                    let damage = match d {
                        Damage::BadUtf8 if rows.iter().all(|r| r.0.is_empty()) => Damage::None,
                        Damage::BadValue | Damage::LastOffset if rows.is_empty() => Damage::None,
                        d => d,
                    };
                    Part {
                        index,
                        rows,
                        damage,
                    }
                })
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn spread_matches_model(parts in parts()) {
        let wire: Vec<Wire> = parts.iter().map(encode).collect();
        prop_assert_eq!(run_spread(&wire), model_spread(&parts));
    }

    #[test]
    fn pulses_match_model(parts in parts(), pool in prop::collection::vec(pulse_value(), 1..40)) {
        prop_assert_eq!(run_pulses(&parts, &pool), model_pulses(&parts, &pool));
    }

    #[test]
    fn recall_matches_model(parts in parts(), limit in 0u32..14) {
        let wire: Vec<Wire> = parts.iter().map(encode).collect();
        prop_assert_eq!(run_recall(&wire, limit), model_recall(&parts, limit));
    }

    #[test]
    fn imagine_matches_model(parts in parts(), max_rows in 0u32..14) {
        let wire: Vec<Wire> = parts.iter().map(encode).collect();
        prop_assert_eq!(run_imagine(&wire, max_rows), model_imagine(&parts, max_rows));
    }

    #[test]
    fn input_order_does_not_matter(parts in parts(), seed in any::<u64>()) {
        let wire: Vec<Wire> = parts.iter().map(encode).collect();
        let mut shuffled: Vec<&Wire> = wire.iter().collect();
        // A deterministic reordering driven by the seed (rotation plus optional reversal).
        let len = shuffled.len().max(1);
        shuffled.rotate_left((seed as usize) % len);
        if seed & 1 == 1 {
            shuffled.reverse();
        }
        let again: Vec<Wire> = shuffled
            .iter()
            .map(|w| Wire(w.0, w.1.clone(), w.2.clone(), w.3.clone(), w.4.clone()))
            .collect();
        prop_assert_eq!(run_spread(&wire), run_spread(&again));
        prop_assert_eq!(run_recall(&wire, 5), run_recall(&again, 5));
        prop_assert_eq!(run_imagine(&wire, 8), run_imagine(&again, 8));
    }
}

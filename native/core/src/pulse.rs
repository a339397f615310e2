//! Pulse merge: the Spread merge over f64 pulses, for a Spread over several spaces
//! (gather-spec, `mergePulses`). The coordinator sends the sums on, so the output is the
//! merged columns themselves (ids, offsets, values) rather than rows pointing into the parts.

use crate::columns::RawIds;
use crate::reject::{InputError, Rejection};
use crate::spread::{merge_sums, SpreadOutput, Summand};

/// One partition's pulses, as wire bytes.
#[derive(Clone, Copy, Debug)]
pub struct PulsePart<'a> {
    pub index: u32,
    pub ids: &'a [u8],
    pub offsets: &'a [u8],
    /// f64 LE per row.
    pub values: &'a [u8],
}

impl<'a> Summand<'a> for PulsePart<'a> {
    type Value = f64;
    const COLUMN: &'static str = "values";
    fn ids(&self) -> RawIds<'a> {
        RawIds {
            index: self.index,
            ids: self.ids,
            offsets: self.offsets,
        }
    }
    fn values(&self) -> &'a [u8] {
        self.values
    }
}

/// One row per distinct id, in order of first appearance (partition index asc, row asc).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PulseMerged {
    /// UTF-8 bytes of the ids, back to back.
    pub ids: Vec<u8>,
    /// `rows + 1` offsets into `ids`, the first 0.
    pub offsets: Vec<u32>,
    /// `min(sum, 1)` of the id's pulses, summed in f64 in partition index order.
    pub values: Vec<f64>,
    pub rejected: Vec<Rejection>,
}

/// A finished pulse merge, still in the merge's working memory (see [`SpreadOutput`]).
pub type PulseOutput<'a> = SpreadOutput<'a, f64>;

/// Byte length of each wire column of a pulse merge of `rows` ids taking `id_bytes` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PulseLayout {
    pub rows: usize,
    pub values: usize,
    pub offsets: usize,
    pub ids: usize,
}

impl PulseLayout {
    pub fn new(rows: usize, id_bytes: usize) -> Self {
        PulseLayout {
            rows,
            values: 8 * rows,
            offsets: 4 * (rows + 1),
            ids: id_bytes,
        }
    }

    pub fn total(&self) -> usize {
        self.values + self.offsets + self.ids
    }
}

/// Writes `ids` and their `values` as wire columns (f64 LE, u32 LE offsets, UTF-8 blob) into
/// `out`, laid out as `layout` says: values, offsets, ids, back to back.
pub fn write_pulse_columns<'i>(
    out: &mut [u8],
    layout: PulseLayout,
    ids: impl Iterator<Item = &'i [u8]>,
    values: impl Iterator<Item = f64>,
) {
    let (vals, rest) = out.split_at_mut(layout.values);
    let (offs, blob) = rest.split_at_mut(layout.offsets);
    for (at, v) in vals.chunks_exact_mut(8).zip(values) {
        at.copy_from_slice(&v.to_le_bytes());
    }
    let mut end = 0usize;
    offs[..4].copy_from_slice(&0u32.to_le_bytes());
    for (at, id) in offs[4..].chunks_exact_mut(4).zip(ids) {
        blob[end..end + id.len()].copy_from_slice(id);
        end += id.len();
        // The caller checked the blob fits u32 offsets (see `merge_pulses_with`).
        at.copy_from_slice(&(end as u32).to_le_bytes());
    }
}

/// Merges the parts; a duplicate partition index, or merged ids too long for u32 offsets, is
/// an error.
pub fn merge_pulses(parts: &[PulsePart<'_>]) -> Result<PulseMerged, InputError> {
    merge_pulses_with(parts, |out| {
        let mut offsets = Vec::with_capacity(out.len() + 1);
        let mut ids = Vec::with_capacity(out.id_bytes());
        offsets.push(0);
        for id in out.ids() {
            ids.extend_from_slice(id);
            offsets.push(ids.len() as u32);
        }
        PulseMerged {
            ids,
            offsets,
            values: out.sums().collect(),
            rejected: out.rejected,
        }
    })
}

/// Merges the parts and hands the result to `finish`, which writes the columns where they
/// are wanted (e.g. with [`write_pulse_columns`]).
pub fn merge_pulses_with<T>(
    parts: &[PulsePart<'_>],
    finish: impl FnOnce(PulseOutput<'_>) -> T,
) -> Result<T, InputError> {
    merge_sums(parts, |out| {
        let bytes = out.id_bytes();
        if bytes > u32::MAX as usize {
            return Err(InputError::ids_too_long(bytes));
        }
        Ok(finish(out))
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::code;
    use crate::testing::strings;

    struct Owned(u32, Vec<u8>, Vec<u8>, Vec<u8>);

    fn part(index: u32, rows: &[(&str, f64)]) -> Owned {
        let (ids, offsets) = strings(rows.iter().map(|r| r.0));
        let values = rows.iter().flat_map(|r| r.1.to_le_bytes()).collect();
        Owned(index, ids, offsets, values)
    }

    fn merge(parts: &[Owned]) -> PulseMerged {
        let parts: Vec<PulsePart> = parts
            .iter()
            .map(|o| PulsePart {
                index: o.0,
                ids: &o.1,
                offsets: &o.2,
                values: &o.3,
            })
            .collect();
        merge_pulses(&parts).unwrap()
    }

    fn ids(m: &PulseMerged) -> Vec<&str> {
        let blob = std::str::from_utf8(&m.ids).unwrap();
        m.offsets
            .windows(2)
            .map(|w| &blob[w[0] as usize..w[1] as usize])
            .collect()
    }

    #[test]
    fn sums_in_f64_without_f32_rounding() {
        let m = merge(&[part(0, &[("a", 0.1)]), part(1, &[("a", 0.2)])]);
        assert_eq!(m.values[0].to_bits(), (0.1f64 + 0.2).to_bits());
        assert_ne!(m.values[0], 0.3);
        assert_eq!(ids(&m), vec!["a"]);
    }

    #[test]
    fn sums_in_partition_index_order() {
        // (0.1 + 0.2) + 0.3 != 0.1 + (0.2 + 0.3) in f64; the parts arrive out of order.
        let m = merge(&[
            part(2, &[("a", 0.3)]),
            part(0, &[("a", 0.1)]),
            part(1, &[("a", 0.2)]),
        ]);
        assert_eq!(m.values, vec![0.1 + 0.2 + 0.3]);
    }

    #[test]
    fn columns_in_order_of_first_appearance_clamped_to_one() {
        let m = merge(&[
            part(5, &[("c", 0.5), ("é", 0.25)]),
            part(2, &[("b", 0.75), ("é", 0.5)]),
            part(7, &[("b", 0.5), ("", 1.0)]),
        ]);
        assert_eq!(ids(&m), vec!["b", "é", "c", ""]);
        assert_eq!(m.offsets, vec![0, 1, 3, 4, 4]);
        assert_eq!(m.values, vec![1.0, 0.75, 0.5, 1.0]);
    }

    #[test]
    fn no_parts_give_one_zero_offset() {
        let m = merge(&[]);
        assert_eq!((m.ids.len(), m.offsets, m.values.len()), (0, vec![0], 0));
    }

    #[test]
    fn rejections_use_8_byte_rows() {
        let mut short = part(3, &[("x", 0.5)]);
        short.3.truncate(4);
        let m = merge(&[
            short,
            part(1, &[("y", 1.0 + f64::EPSILON)]),
            part(4, &[("z", 0.5), ("z", 0.5)]),
            part(0, &[("w", 0.5)]),
        ]);
        let got: Vec<_> = m.rejected.iter().map(|r| (r.partition, r.code)).collect();
        assert_eq!(
            got,
            vec![
                (1, code::BAD_VALUE),
                (3, code::COLUMN_LENGTH),
                (4, code::DUPLICATE_ID)
            ]
        );
        assert_eq!(
            m.rejected[1].message,
            "partition 3: values column has 4 bytes, expected 8"
        );
        assert_eq!(ids(&m), vec!["w"]);
    }

    #[test]
    fn written_columns_match_the_owned_merge() {
        let owned = [part(0, &[("a", 0.1), ("bb", 0.4)]), part(1, &[("bb", 0.2)])];
        let parts: Vec<PulsePart> = owned
            .iter()
            .map(|o| PulsePart {
                index: o.0,
                ids: &o.1,
                offsets: &o.2,
                values: &o.3,
            })
            .collect();
        let bytes = merge_pulses_with(&parts, |out| {
            let layout = PulseLayout::new(out.len(), out.id_bytes());
            let mut buf = vec![0xAA; layout.total()];
            write_pulse_columns(&mut buf, layout, out.ids(), out.sums());
            buf
        })
        .unwrap();
        let m = merge_pulses(&parts).unwrap();
        let mut want: Vec<u8> = m.values.iter().flat_map(|v| v.to_le_bytes()).collect();
        want.extend(m.offsets.iter().flat_map(|o| o.to_le_bytes()));
        want.extend(&m.ids);
        assert_eq!(bytes, want);
    }
}

//! Validation and zero-copy reading of the columnar wire format (docs/gather-spec.md).
//!
//! Columns are little-endian bytes that may start at any address (a view into a received
//! message), so every read goes through `from_le_bytes` on 4- or 8-byte chunks instead of a cast.

use std::marker::PhantomData;

use crate::reject::{code, Rejection};
use crate::text::js_number;

/// Cap on the rows of one Spread partition (the spec's `MAX_PARTITION_ROWS`).
pub const MAX_PARTITION_ROWS: usize = 1_000_000;

#[inline]
fn u32_at(chunk: &[u8]) -> u32 {
    u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])
}

/// A float type of the value columns: f32 (Recall, Spread, Imagine) or f64 (pulses).
pub trait Float: Copy + PartialOrd + Into<f64> + 'static {
    /// Bytes per value on the wire.
    const WIDTH: usize;
    const ZERO: Self;
    const ONE: Self;
    /// The value of the first `WIDTH` bytes of `chunk`, little-endian.
    fn read(chunk: &[u8]) -> Self;
}

impl Float for f32 {
    const WIDTH: usize = 4;
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline]
    fn read(chunk: &[u8]) -> f32 {
        f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])
    }
}

impl Float for f64 {
    const WIDTH: usize = 8;
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline]
    fn read(chunk: &[u8]) -> f64 {
        f64::from_le_bytes(chunk[..8].try_into().unwrap())
    }
}

/// Ids of one validated partition: a UTF-8 blob cut by `n + 1` offsets.
#[derive(Clone, Copy, Debug)]
pub struct IdColumn<'a> {
    blob: &'a [u8],
    offsets: &'a [u8],
}

impl<'a> IdColumn<'a> {
    pub fn len(&self) -> usize {
        (self.offsets.len() / 4).saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Id of row `i`, as its UTF-8 bytes.
    pub fn get(&self, i: usize) -> &'a [u8] {
        let start = u32_at(&self.offsets[4 * i..]) as usize;
        let end = u32_at(&self.offsets[4 * i + 4..]) as usize;
        &self.blob[start..end]
    }

    /// Ids in row order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let blob = self.blob;
        self.spans()
            .map(move |(start, end)| &blob[start as usize..end as usize])
    }

    /// Byte range of each id in the blob, in row order.
    pub fn spans(&self) -> impl Iterator<Item = (u32, u32)> + 'a {
        let mut start = 0u32;
        self.offsets.chunks_exact(4).skip(1).map(move |c| {
            let end = u32_at(c);
            let span = (start, end);
            start = end;
            span
        })
    }

    /// The UTF-8 blob the offsets cut.
    pub fn blob(&self) -> &'a [u8] {
        self.blob
    }
}

/// One LE value column of a validated partition.
#[derive(Clone, Copy, Debug)]
pub struct Column<'a, T>(&'a [u8], PhantomData<T>);

/// An f32 LE column.
pub type F32Column<'a> = Column<'a, f32>;
/// An f64 LE column.
pub type F64Column<'a> = Column<'a, f64>;

impl<'a, T: Float> Column<'a, T> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Column(bytes, PhantomData)
    }

    pub fn get(&self, i: usize) -> T {
        T::read(&self.0[T::WIDTH * i..])
    }

    pub fn iter(&self) -> impl Iterator<Item = T> + 'a {
        self.0.chunks_exact(T::WIDTH).map(T::read)
    }

    /// First row whose value is not finite or outside [0, 1], with that value.
    fn first_out_of_unit(&self) -> Option<(usize, T)> {
        let unit = T::ZERO..=T::ONE;
        // A branch-free pass first, so the common all-valid column stays vectorizable.
        let all_ok = self.iter().fold(true, |ok, v| ok & unit.contains(&v));
        if all_ok {
            return None;
        }
        self.iter().enumerate().find(|&(_, v)| !unit.contains(&v))
    }
}

/// The raw columns of one partition result, as handed over by the caller.
#[derive(Clone, Copy, Debug)]
pub struct RawIds<'a> {
    pub index: u32,
    pub ids: &'a [u8],
    pub offsets: &'a [u8],
}

/// Checks 1-5 of the spec (offsets, size cap, column lengths, offsets content, UTF-8) in that
/// order; `values` are the partition's value columns of `T` with their names for messages.
pub fn validate_ids<'a, T: Float>(
    raw: RawIds<'a>,
    values: &[(&str, &'a [u8])],
    cap: usize,
) -> Result<(IdColumn<'a>, usize), Rejection> {
    let RawIds {
        index,
        ids: blob,
        offsets,
    } = raw;
    let reject = |code: &'static str, message: String| Err(Rejection::new(index, code, message));
    if offsets.len() % 4 != 0 {
        return reject(
            code::BAD_OFFSETS,
            format!(
                "offsets column has {} bytes, not a multiple of 4",
                offsets.len()
            ),
        );
    }
    let n = (offsets.len() / 4).saturating_sub(1);
    if n > cap {
        return reject(code::TOO_LARGE, format!("{n} rows > cap {cap}"));
    }
    for &(name, column) in values {
        if column.len() != T::WIDTH * n {
            return reject(
                code::COLUMN_LENGTH,
                format!(
                    "{name} column has {} bytes, expected {}",
                    column.len(),
                    T::WIDTH * n
                ),
            );
        }
    }
    if well_formed_ascii(blob, offsets) {
        return Ok((IdColumn { blob, offsets }, n));
    }
    let split = check_offsets(index, blob, offsets)?;
    if std::str::from_utf8(blob).is_err() {
        return reject(code::BAD_UTF8, "id blob is not valid UTF-8".into());
    }
    if let Some((k, o)) = split {
        return reject(
            code::BAD_UTF8,
            format!("offsets[{k}]={o} splits a UTF-8 character"),
        );
    }
    Ok((IdColumn { blob, offsets }, n))
}

/// Checks 4 and 5 at once for the usual input: non-empty offsets that start at 0, never
/// decrease and end at the blob's length, over an ASCII blob (valid UTF-8, and no byte of it a
/// continuation byte an offset could point at). False sends the partition through the exact
/// checks, which find the first problem in the spec's order or accept it after all.
fn well_formed_ascii(blob: &[u8], offsets: &[u8]) -> bool {
    let n = offsets.len();
    if n == 0 || u32_at(offsets) != 0 || u32_at(&offsets[n - 4..]) as usize != blob.len() {
        return false;
    }
    // Each offset against the next, with no carried state, so the loop vectorizes.
    let increasing = offsets[..n - 4]
        .chunks_exact(4)
        .zip(offsets[4..].chunks_exact(4))
        .fold(true, |ok, (a, b)| ok & (u32_at(a) <= u32_at(b)));
    increasing && blob.is_ascii()
}

/// Check 4; on success returns the first offset that points inside a UTF-8 character, which
/// check 5 reports only once the whole offsets column is known to be well formed.
fn check_offsets(
    index: u32,
    blob: &[u8],
    offsets: &[u8],
) -> Result<Option<(usize, u32)>, Rejection> {
    let reject = |message: String| Err(Rejection::new(index, code::BAD_OFFSETS, message));
    if offsets.is_empty() {
        if !blob.is_empty() {
            return reject(format!("no offsets but an id blob of {} bytes", blob.len()));
        }
        return Ok(None);
    }
    let first = u32_at(offsets);
    if first != 0 {
        return reject(format!("offsets[0]={first} is not 0"));
    }
    let mut prev = 0u32;
    let mut split = None;
    for (k, chunk) in offsets.chunks_exact(4).enumerate().skip(1) {
        let o = u32_at(chunk);
        if o < prev {
            return reject(format!("offsets[{k}]={o} < offsets[{}]={prev}", k - 1));
        }
        if split.is_none() && o != prev {
            if let Some(&b) = blob.get(o as usize) {
                if b & 0xC0 == 0x80 {
                    split = Some((k, o));
                }
            }
        }
        prev = o;
    }
    let last = prev as usize;
    if last != blob.len() {
        let k = offsets.len() / 4 - 1;
        return reject(format!("offsets[{k}]={last} != blob length {}", blob.len()));
    }
    Ok(split)
}

/// Check 6 for one column: every value finite and in [0, 1].
pub fn validate_unit<'a, T: Float>(
    index: u32,
    name: &str,
    column: &'a [u8],
) -> Result<Column<'a, T>, Rejection> {
    let column = Column::new(column);
    match column.first_out_of_unit() {
        None => Ok(column),
        Some((row, v)) => Err(Rejection::new(
            index,
            code::BAD_VALUE,
            format!("{name}[{row}]={} is not in [0, 1]", js_number(v.into())),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le32(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn check(
        blob: &[u8],
        offsets: &[u8],
        values: &[&[u8]],
        cap: usize,
    ) -> Result<usize, Rejection> {
        let named: Vec<(&str, &[u8])> = values.iter().map(|v| ("value", *v)).collect();
        validate_ids::<f32>(
            RawIds {
                index: 3,
                ids: blob,
                offsets,
            },
            &named,
            cap,
        )
        .map(|(_, n)| n)
    }

    fn code_of(r: Result<usize, Rejection>) -> &'static str {
        r.expect_err("expected a rejection").code
    }

    #[test]
    fn reads_unaligned_columns() {
        let mut buf = vec![0xEEu8];
        buf.extend(le32(&[0, 1, 3]));
        let blob = b"abc";
        let (ids, n) = validate_ids::<f32>(
            RawIds {
                index: 0,
                ids: blob,
                offsets: &buf[1..],
            },
            &[],
            10,
        )
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(ids.iter().collect::<Vec<_>>(), vec![&b"a"[..], &b"bc"[..]]);
        assert_eq!(ids.get(1), b"bc");
        let mut vals = vec![0u8];
        vals.extend(0.25f32.to_le_bytes());
        assert_eq!(F32Column::new(&vals[1..]).get(0), 0.25);
        let mut wide = vec![0u8];
        wide.extend(0.1f64.to_le_bytes());
        assert_eq!(F64Column::new(&wide[1..]).get(0), 0.1);
    }

    #[test]
    fn empty_offsets_mean_zero_rows() {
        assert_eq!(check(b"", b"", &[b""], 0), Ok(0));
        assert_eq!(code_of(check(b"x", b"", &[b""], 0)), code::BAD_OFFSETS);
        // One offset is also zero rows, and it must be 0 = blob length.
        assert_eq!(check(b"", &le32(&[0]), &[b""], 0), Ok(0));
    }

    #[test]
    fn each_check_has_its_code() {
        let v4 = 0.5f32.to_le_bytes();
        assert_eq!(
            code_of(check(b"a", &[0, 0, 0, 0, 1], &[&v4], 5)),
            code::BAD_OFFSETS
        );
        assert_eq!(
            code_of(check(b"a", &le32(&[0, 1]), &[&v4], 0)),
            code::TOO_LARGE
        );
        assert_eq!(
            code_of(check(b"a", &le32(&[0, 1]), &[&[0, 0]], 5)),
            code::COLUMN_LENGTH
        );
        assert_eq!(
            code_of(check(b"a", &le32(&[1, 1]), &[&v4], 5)),
            code::BAD_OFFSETS
        );
        assert_eq!(
            code_of(check(b"ab", &le32(&[0, 2, 1, 2]), &[&[0; 12]], 5)),
            code::BAD_OFFSETS
        );
        assert_eq!(
            code_of(check(b"ab", &le32(&[0, 1]), &[&v4], 5)),
            code::BAD_OFFSETS
        );
        assert_eq!(
            code_of(check(b"\xff", &le32(&[0, 1]), &[&v4], 5)),
            code::BAD_UTF8
        );
        // "é" is two bytes; an offset between them splits it.
        let e = "é".as_bytes();
        assert_eq!(
            code_of(check(e, &le32(&[0, 1, 2]), &[&[0; 8]], 5)),
            code::BAD_UTF8
        );
        assert_eq!(check(e, &le32(&[0, 2]), &[&v4], 5), Ok(1));
    }

    #[test]
    fn earlier_checks_win() {
        // Wrong column length and bad UTF-8 together: check 3 comes first.
        assert_eq!(
            code_of(check(b"\xff", &le32(&[0, 1]), &[&[]], 5)),
            code::COLUMN_LENGTH
        );
        // A split character before a decreasing offset: check 4 comes first.
        let blob = "éa".as_bytes();
        assert_eq!(
            code_of(check(blob, &le32(&[0, 1, 0, 3]), &[&[0; 12]], 5)),
            code::BAD_OFFSETS
        );
    }

    #[test]
    fn the_ascii_shortcut_accepts_only_what_the_exact_checks_accept() {
        let blobs: [&[u8]; 5] = [b"", b"ab", b"abc", "é".as_bytes(), b"a\xff"];
        let offsets = [
            vec![],
            vec![0],
            vec![0, 2],
            vec![0, 3],
            vec![1, 2],
            vec![0, 1, 2],
            vec![0, 2, 1, 2],
            vec![0, 0, 2, 2],
        ];
        for blob in blobs {
            for o in &offsets {
                let o = le32(o);
                let exact =
                    check_offsets(0, blob, &o) == Ok(None) && std::str::from_utf8(blob).is_ok();
                if well_formed_ascii(blob, &o) {
                    assert!(exact, "{blob:?} {o:?}");
                } else if blob.is_ascii() && !o.is_empty() {
                    assert!(
                        !exact,
                        "{blob:?} {o:?}: valid ASCII ids missed the shortcut"
                    );
                }
            }
        }
    }

    #[test]
    fn message_names_partition_and_problem() {
        let r = check(b"abc", &le32(&[0, 1, 90]), &[&[0; 8]], 5).unwrap_err();
        assert_eq!(r.partition, 3);
        assert_eq!(r.message, "partition 3: offsets[2]=90 != blob length 3");
    }

    #[test]
    fn unit_values() {
        for bad in [f32::NAN, f32::INFINITY, -0.5, 1.5] {
            let r = validate_unit::<f32>(1, "activation", &bad.to_le_bytes()).unwrap_err();
            assert_eq!(r.code, code::BAD_VALUE);
        }
        for good in [0.0f32, -0.0, 1.0, 0.3] {
            assert!(validate_unit::<f32>(1, "activation", &good.to_le_bytes()).is_ok());
        }
    }

    #[test]
    fn f64_columns_are_8_bytes_a_row_and_keep_every_bit() {
        let blob = b"ab";
        let offsets = le32(&[0, 1, 2]);
        let raw = RawIds {
            index: 2,
            ids: blob,
            offsets: &offsets,
        };
        assert!(validate_ids::<f64>(raw, &[("values", &[0; 16])], 5).is_ok());
        let r = validate_ids::<f64>(raw, &[("values", &[0; 8])], 5).unwrap_err();
        assert_eq!(r.code, code::COLUMN_LENGTH);
        assert_eq!(
            r.message,
            "partition 2: values column has 8 bytes, expected 16"
        );
        // Just above 1 in f64, though it rounds to 1 in f32.
        let above = 1.0f64 + f64::EPSILON;
        let r = validate_unit::<f64>(2, "values", &above.to_le_bytes()).unwrap_err();
        assert_eq!(
            r.message,
            "partition 2: values[0]=1.0000000000000002 is not in [0, 1]"
        );
        let tiny = f64::MIN_POSITIVE / 4.0;
        let bytes = tiny.to_le_bytes();
        let col = validate_unit::<f64>(2, "values", &bytes).unwrap();
        assert_eq!(col.get(0).to_bits(), tiny.to_bits());
    }
}

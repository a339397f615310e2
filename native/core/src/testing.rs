//! Builders of wire columns for tests.

/// UTF-8 blob and u32 LE offsets of `ids`; no ids give an empty offsets column.
pub fn strings<'s>(ids: impl IntoIterator<Item = &'s str>) -> (Vec<u8>, Vec<u8>) {
    let mut blob = Vec::new();
    let mut offsets = 0u32.to_le_bytes().to_vec();
    for id in ids {
        blob.extend_from_slice(id.as_bytes());
        offsets.extend((blob.len() as u32).to_le_bytes());
    }
    if offsets.len() == 4 {
        offsets.clear();
    }
    (blob, offsets)
}

/// f32 LE column of `values`.
pub fn f32s(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

//! Thin N-API adapters over `engram-core`: convert, validate, call, map errors.

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Penalty of DESIGN §3 for `missing` of `expected` partitions.
#[napi]
pub fn penalty(expected: u32, missing: u32, partitioned: bool) -> f64 {
    engram_core::penalty::penalty(expected, missing, partitioned) as f64
}

/// Multiplies every value of `values` by `1 - penalty`, in place.
#[napi]
pub fn apply_penalty(mut values: Float32ArraySlice, penalty: f64) {
    // SAFETY: a synchronous call on the JS thread; no JS runs while we hold the slice.
    let values = unsafe { values.as_mut() };
    engram_core::penalty::apply_penalty(values, penalty as f32);
}

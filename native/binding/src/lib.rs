//! Thin N-API adapters over `engram-core`: convert, validate, call, map errors.
//!
//! Programming errors in the input throw a JS Error whose `code` is `ERR_GATHER_INPUT`;
//! problems with one partition's data come back as `rejected` entries (docs/gather-spec.md).

mod errors;
mod merge;
mod membership;
mod merge_async;
mod parts;
mod raft;
mod results;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::errors::input_error;

/// Penalty of DESIGN §3 for `missing` of `expected` partitions (both u32).
#[napi]
pub fn penalty(expected: f64, missing: f64, partitioned: bool) -> Result<f64, &'static str> {
    let expected = engram_core::checked_u32("expected", expected).map_err(input_error)?;
    let missing = engram_core::checked_u32("missing", missing).map_err(input_error)?;
    Ok(engram_core::penalty::penalty(expected, missing, partitioned) as f64)
}

/// Multiplies every value of `values` by `f32(1 - f32(penalty))`, in place.
#[napi]
pub fn apply_penalty(mut values: Float32ArraySlice, penalty: f64) {
    // SAFETY: a synchronous call on the JS thread; no JS runs while we hold the slice.
    let values = unsafe { values.as_mut() };
    engram_core::penalty::apply_penalty(values, penalty as f32);
}

/// Complete / Consolidate: index of the first primary copy, else 0; -1 for no copies.
#[napi]
pub fn pick_one(primary: Vec<bool>) -> i64 {
    engram_core::pick_one(&primary).map_or(-1, |i| i as i64)
}

//! Synchronous merges: the parts' buffers are borrowed for the duration of the call.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use napi::Env;

use crate::errors::{input_error, napi_error};
use crate::parts::{
    imagine_parts, indices, pulse_parts, recall_parts, spread_parts, ImaginePart, PulsePart,
    RecallPart, SpreadPart,
};
use crate::results::{ImagineMerged, PulseMerged, RecallMerged, SpreadMerged};

/// Recall: dedup by id keeping the most confident copy, sort by `lower` desc / id asc, cut to `limit`.
#[napi]
pub fn merge_recall(parts: Vec<RecallPart>, limit: f64) -> Result<RecallMerged, &'static str> {
    // The limit is checked before the indices, as in the TS reference.
    let limit = engram_core::checked_u32("limit", limit).map_err(input_error)?;
    let at = indices(parts.iter().map(|p| p.index)).map_err(input_error)?;
    let merged =
        engram_core::merge_recall(&recall_parts(&parts, &at), limit).map_err(input_error)?;
    Ok(merged.into())
}

/// Spread: per distinct id, activations summed in f64 in partition index order, clamped to 1.
#[napi]
pub fn merge_spread(env: Env, parts: Vec<SpreadPart<'_>>) -> Result<SpreadMerged, &'static str> {
    let at = indices(parts.iter().map(|p| p.index)).map_err(input_error)?;
    let parts = spread_parts(&parts, &at);
    engram_core::merge_spread_with(&parts, |out| SpreadMerged::from_output(&env, out))
        .map_err(input_error)?
        .map_err(napi_error)
}

/// Pulses: Spread over f64 values, returned as wire columns (ids, offsets, values).
#[napi]
pub fn merge_pulses(env: Env, parts: Vec<PulsePart<'_>>) -> Result<PulseMerged, &'static str> {
    let at = indices(parts.iter().map(|p| p.index)).map_err(input_error)?;
    let parts = pulse_parts(&parts, &at);
    engram_core::merge_pulses_with(&parts, |out| PulseMerged::from_output(&env, out))
        .map_err(input_error)?
        .map_err(napi_error)
}

/// Imagine: every row of the accepted partitions, by confidence desc, partition asc, row asc.
#[napi]
pub fn merge_imagine(
    parts: Vec<ImaginePart>,
    max_rows: f64,
) -> Result<ImagineMerged, &'static str> {
    let max_rows = engram_core::checked_u32("maxRows", max_rows).map_err(input_error)?;
    let at = indices(parts.iter().map(|p| p.index)).map_err(input_error)?;
    let merged =
        engram_core::merge_imagine(&imagine_parts(&parts, &at), max_rows).map_err(input_error)?;
    Ok(merged.into())
}

//! Partition results as JS hands them over: `Uint8Array` views of the wire bytes, read in
//! place (never copied). A Recall or Imagine part holds a reference to each of its arrays, so
//! the bytes stay alive while a pool thread runs an async merge over them. A Spread or pulse
//! part only borrows its arrays for the synchronous call (references cost ~0.5 µs each to make
//! and drop); the async merges hold them ([`HeldSpreadPart`], [`HeldPulsePart`]).

use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;

use engram_core::InputError;

/// Recall partition result: ids (UTF-8 blob + u32 LE offsets) and f32 LE `lower` / `upper`.
#[napi(object, object_to_js = false)]
pub struct RecallPart {
    /// Stable index of the partition in the query plan (u32).
    pub index: f64,
    pub ids: Uint8Array,
    pub offsets: Uint8Array,
    pub lower: Uint8Array,
    pub upper: Uint8Array,
}

/// Spread partition result: ids (UTF-8 blob + u32 LE offsets) and f32 LE `activation`.
#[napi(object, object_to_js = false)]
pub struct SpreadPart<'a> {
    /// Stable index of the partition in the query plan (u32).
    pub index: f64,
    pub ids: Uint8ArraySlice<'a>,
    pub offsets: Uint8ArraySlice<'a>,
    pub activation: Uint8ArraySlice<'a>,
}

/// A [`SpreadPart`] whose arrays are held by references, for a merge that outlives the call.
pub struct HeldSpreadPart {
    pub index: f64,
    pub ids: Uint8Array,
    pub offsets: Uint8Array,
    pub activation: Uint8Array,
}

impl SpreadPart<'_> {
    pub fn hold(self, env: &Env) -> Result<HeldSpreadPart> {
        Ok(HeldSpreadPart {
            index: self.index,
            ids: self.ids.into_typed_array(env)?,
            offsets: self.offsets.into_typed_array(env)?,
            activation: self.activation.into_typed_array(env)?,
        })
    }
}

/// Pulses of one partition: ids (UTF-8 blob + u32 LE offsets) and f64 LE `values`.
#[napi(object, object_to_js = false)]
pub struct PulsePart<'a> {
    /// Stable index of the partition in the query plan (u32).
    pub index: f64,
    pub ids: Uint8ArraySlice<'a>,
    pub offsets: Uint8ArraySlice<'a>,
    pub values: Uint8ArraySlice<'a>,
}

/// A [`PulsePart`] whose arrays are held by references, for a merge that outlives the call.
pub struct HeldPulsePart {
    pub index: f64,
    pub ids: Uint8Array,
    pub offsets: Uint8Array,
    pub values: Uint8Array,
}

impl PulsePart<'_> {
    pub fn hold(self, env: &Env) -> Result<HeldPulsePart> {
        Ok(HeldPulsePart {
            index: self.index,
            ids: self.ids.into_typed_array(env)?,
            offsets: self.offsets.into_typed_array(env)?,
            values: self.values.into_typed_array(env)?,
        })
    }
}

/// Imagine partition result: ids (UTF-8 blob + u32 LE offsets) and f32 LE `confidence`.
#[napi(object, object_to_js = false)]
pub struct ImaginePart {
    /// Stable index of the partition in the query plan (u32).
    pub index: f64,
    pub ids: Uint8Array,
    pub offsets: Uint8Array,
    pub confidence: Uint8Array,
}

/// Checks every index is a u32, in input order as the TS reference does.
pub fn indices(raw: impl Iterator<Item = f64>) -> std::result::Result<Vec<u32>, InputError> {
    raw.map(|i| engram_core::checked_u32("partition index", i))
        .collect()
}

pub fn recall_parts<'a>(
    parts: &'a [RecallPart],
    indices: &[u32],
) -> Vec<engram_core::RecallPart<'a>> {
    let view = |(p, &index): (&'a RecallPart, &u32)| engram_core::RecallPart {
        index,
        ids: &p.ids,
        offsets: &p.offsets,
        lower: &p.lower,
        upper: &p.upper,
    };
    parts.iter().zip(indices).map(view).collect()
}

pub fn spread_parts<'a>(
    parts: &'a [SpreadPart<'_>],
    indices: &[u32],
) -> Vec<engram_core::SpreadPart<'a>> {
    let view = |(p, &index): (&'a SpreadPart<'_>, &u32)| engram_core::SpreadPart {
        index,
        ids: &p.ids,
        offsets: &p.offsets,
        activation: &p.activation,
    };
    parts.iter().zip(indices).map(view).collect()
}

pub fn held_spread_parts<'a>(
    parts: &'a [HeldSpreadPart],
    indices: &[u32],
) -> Vec<engram_core::SpreadPart<'a>> {
    let view = |(p, &index): (&'a HeldSpreadPart, &u32)| engram_core::SpreadPart {
        index,
        ids: &p.ids,
        offsets: &p.offsets,
        activation: &p.activation,
    };
    parts.iter().zip(indices).map(view).collect()
}

pub fn pulse_parts<'a>(
    parts: &'a [PulsePart<'_>],
    indices: &[u32],
) -> Vec<engram_core::PulsePart<'a>> {
    let view = |(p, &index): (&'a PulsePart<'_>, &u32)| engram_core::PulsePart {
        index,
        ids: &p.ids,
        offsets: &p.offsets,
        values: &p.values,
    };
    parts.iter().zip(indices).map(view).collect()
}

pub fn held_pulse_parts<'a>(
    parts: &'a [HeldPulsePart],
    indices: &[u32],
) -> Vec<engram_core::PulsePart<'a>> {
    let view = |(p, &index): (&'a HeldPulsePart, &u32)| engram_core::PulsePart {
        index,
        ids: &p.ids,
        offsets: &p.offsets,
        values: &p.values,
    };
    parts.iter().zip(indices).map(view).collect()
}

pub fn imagine_parts<'a>(
    parts: &'a [ImaginePart],
    indices: &[u32],
) -> Vec<engram_core::ImaginePart<'a>> {
    let view = |(p, &index): (&'a ImaginePart, &u32)| engram_core::ImaginePart {
        index,
        ids: &p.ids,
        offsets: &p.offsets,
        confidence: &p.confidence,
    };
    parts.iter().zip(indices).map(view).collect()
}

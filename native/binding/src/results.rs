//! Merge results as JS receives them: the column Vecs move into external ArrayBuffers (no copy).

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A partition left out of a merge (reported as data, never thrown).
#[napi(object, object_from_js = false)]
pub struct Rejection {
    pub partition: u32,
    #[napi(
        ts_type = "'BAD_OFFSETS' | 'TOO_LARGE' | 'COLUMN_LENGTH' | 'BAD_UTF8' | 'BAD_VALUE' | 'DUPLICATE_ID'"
    )]
    pub code: String,
    pub message: String,
}

/// Recall winners by `lower` desc, id asc, cut to `limit`; row `i` is row `row[i]` of partition `partition[i]`.
#[napi(object, object_from_js = false)]
pub struct RecallMerged {
    pub partition: Uint32Array,
    pub row: Uint32Array,
    pub lower: Float32Array,
    pub upper: Float32Array,
    pub rejected: Vec<Rejection>,
}

/// Spread: one row per distinct id, in order of first appearance, activations summed and clamped.
#[napi(object, object_from_js = false)]
pub struct SpreadMerged {
    pub partition: Uint32Array,
    pub row: Uint32Array,
    pub activation: Float32Array,
    pub rejected: Vec<Rejection>,
}

/// Imagine: every accepted row by confidence desc, partition index asc, row asc.
#[napi(object, object_from_js = false)]
pub struct ImagineMerged {
    pub partition: Uint32Array,
    pub row: Uint32Array,
    pub confidence: Float32Array,
    pub rejected: Vec<Rejection>,
}

fn rejections(rejected: Vec<engram_core::Rejection>) -> Vec<Rejection> {
    rejected
        .into_iter()
        .map(|r| Rejection {
            partition: r.partition,
            code: r.code.to_owned(),
            message: r.message,
        })
        .collect()
}

impl From<engram_core::RecallMerged> for RecallMerged {
    fn from(m: engram_core::RecallMerged) -> Self {
        RecallMerged {
            partition: Uint32Array::new(m.partition),
            row: Uint32Array::new(m.row),
            lower: Float32Array::new(m.lower),
            upper: Float32Array::new(m.upper),
            rejected: rejections(m.rejected),
        }
    }
}

impl From<engram_core::SpreadMerged> for SpreadMerged {
    fn from(m: engram_core::SpreadMerged) -> Self {
        SpreadMerged {
            partition: Uint32Array::new(m.partition),
            row: Uint32Array::new(m.row),
            activation: Float32Array::new(m.activation),
            rejected: rejections(m.rejected),
        }
    }
}

impl From<engram_core::ImagineMerged> for ImagineMerged {
    fn from(m: engram_core::ImagineMerged) -> Self {
        ImagineMerged {
            partition: Uint32Array::new(m.partition),
            row: Uint32Array::new(m.row),
            confidence: Float32Array::new(m.confidence),
            rejected: rejections(m.rejected),
        }
    }
}

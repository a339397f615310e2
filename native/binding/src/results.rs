//! Merge results as JS receives them. Recall and Imagine columns move into external
//! ArrayBuffers (no copy); Spread's and the pulse merge's are written straight into one Node
//! Buffer's ArrayBuffer.

use napi::bindgen_prelude::*;
use napi::Env;
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

/// Pulses: one row per distinct id, in order of first appearance, as wire columns (f64 LE
/// `values`, u32 LE `offsets`, UTF-8 `ids`), views of one ArrayBuffer; `values` starts at a
/// multiple of 8 bytes in it.
#[napi(object, object_from_js = false)]
pub struct PulseMerged {
    pub ids: Uint8Array,
    pub offsets: Uint8Array,
    pub values: Uint8Array,
    pub rows: u32,
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

impl SpreadMerged {
    /// A finished merge, written straight into JS memory.
    pub fn from_output(env: &Env, mut out: engram_core::SpreadOutput<'_>) -> Result<Self> {
        let rejected = std::mem::take(&mut out.rejected);
        let columns = (out.partition(), out.row(), out.activation());
        spread_to_js(env, out.len(), columns, rejected)
    }

    /// A merge made off the JS thread, copied into JS memory.
    pub fn from_merged(env: &Env, m: engram_core::SpreadMerged) -> Result<Self> {
        let columns = (
            m.partition.into_iter(),
            m.row.into_iter(),
            m.activation.into_iter(),
        );
        spread_to_js(env, columns.0.len(), columns, m.rejected)
    }
}

/// The three columns of `n` rows as views of one ArrayBuffer (see [`node_bytes`]): partition,
/// row, activation, back to back.
fn spread_to_js(
    env: &Env,
    n: usize,
    (partition, row, activation): (
        impl Iterator<Item = u32>,
        impl Iterator<Item = u32>,
        impl Iterator<Item = f32>,
    ),
    rejected: Vec<engram_core::Rejection>,
) -> Result<SpreadMerged> {
    let JsBytes { buffer, at, bytes } = node_bytes(env, 12 * n)?;
    let (head, tail) = bytes.split_at_mut(4 * n);
    let (middle, tail) = tail.split_at_mut(4 * n);
    for (at, v) in head.chunks_exact_mut(4).zip(partition) {
        at.copy_from_slice(&v.to_ne_bytes());
    }
    for (at, v) in middle.chunks_exact_mut(4).zip(row) {
        at.copy_from_slice(&v.to_ne_bytes());
    }
    for (at, v) in tail.chunks_exact_mut(4).zip(activation) {
        at.copy_from_slice(&v.to_ne_bytes());
    }
    Ok(SpreadMerged {
        partition: view(env, buffer, TypedArrayType::Uint32, at, n)?,
        row: view(env, buffer, TypedArrayType::Uint32, at + 4 * n, n)?,
        activation: view(env, buffer, TypedArrayType::Float32, at + 8 * n, n)?,
        rejected: rejections(rejected),
    })
}

impl PulseMerged {
    /// A finished merge, written straight into JS memory.
    pub fn from_output(env: &Env, mut out: engram_core::PulseOutput<'_>) -> Result<Self> {
        let rejected = std::mem::take(&mut out.rejected);
        let layout = engram_core::PulseLayout::new(out.len(), out.id_bytes());
        pulses_to_js(env, layout, out.ids(), out.sums(), rejected)
    }

    /// A merge made off the JS thread, copied into JS memory.
    pub fn from_merged(env: &Env, m: engram_core::PulseMerged) -> Result<Self> {
        let layout = engram_core::PulseLayout::new(m.values.len(), m.ids.len());
        let ids = m
            .offsets
            .windows(2)
            .map(|w| &m.ids[w[0] as usize..w[1] as usize]);
        pulses_to_js(env, layout, ids, m.values.iter().copied(), m.rejected)
    }
}

/// The pulse columns as views of one ArrayBuffer: values, offsets, ids, back to back, with
/// `values` at a multiple of 8 bytes so a caller can view it as a Float64Array.
fn pulses_to_js<'i>(
    env: &Env,
    layout: engram_core::PulseLayout,
    ids: impl Iterator<Item = &'i [u8]>,
    values: impl Iterator<Item = f64>,
    rejected: Vec<engram_core::Rejection>,
) -> Result<PulseMerged> {
    let mut js = node_bytes(env, layout.total())?;
    if js.at % 8 != 0 {
        // Node starts a Buffer it allocates at offset 0 of its own ArrayBuffer, so this does
        // not happen today; if it ever did, a plain ArrayBuffer keeps the promise.
        js = array_buffer(env, layout.total())?;
    }
    let JsBytes { buffer, at, bytes } = js;
    engram_core::write_pulse_columns(bytes, layout, ids, values);
    let (values_at, offsets_at) = (at, at + layout.values);
    let ids_at = offsets_at + layout.offsets;
    Ok(PulseMerged {
        values: view(env, buffer, TypedArrayType::Uint8, values_at, layout.values)?,
        offsets: view(
            env,
            buffer,
            TypedArrayType::Uint8,
            offsets_at,
            layout.offsets,
        )?,
        ids: view(env, buffer, TypedArrayType::Uint8, ids_at, layout.ids)?,
        rows: layout.rows as u32,
        rejected: rejections(rejected),
    })
}

/// `len` bytes of JS memory: an ArrayBuffer and where in it the bytes start.
struct JsBytes<'e> {
    buffer: napi::sys::napi_value,
    at: usize,
    /// Not initialised (for a Node Buffer): the caller writes every byte before JS sees them.
    bytes: &'e mut [u8],
}

/// `len` bytes in a new Node Buffer's ArrayBuffer. The buffer is a Node Buffer's, which V8's GC
/// frees, not an external one over a Rust allocation: Node runs the finalizers of external
/// buffers on a later turn of the event loop, so a caller merging in a loop would hold on to
/// every result's memory until it yields, and each merge would write into freshly mapped pages.
fn node_bytes(env: &Env, len: usize) -> Result<JsBytes<'_>> {
    let (mut data, mut node_buffer) = (std::ptr::null_mut(), std::ptr::null_mut());
    let (mut buffer, mut at) = (std::ptr::null_mut(), 0);
    // SAFETY: on the JS thread with a live env. A Node Buffer, unlike napi_create_arraybuffer,
    // is not zero-filled first; its `len` bytes at `data` lie in its ArrayBuffer at byte `at`.
    unsafe {
        check_status!(napi::sys::napi_create_buffer(
            env.raw(),
            len,
            &mut data,
            &mut node_buffer
        ))?;
        check_status!(napi::sys::napi_get_typedarray_info(
            env.raw(),
            node_buffer,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut buffer,
            &mut at,
        ))?;
        Ok(JsBytes {
            buffer,
            at,
            bytes: bytes_at(data, len),
        })
    }
}

/// `len` zeroed bytes at the start of a new ArrayBuffer.
fn array_buffer(env: &Env, len: usize) -> Result<JsBytes<'_>> {
    let (mut data, mut buffer) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: on the JS thread with a live env; the ArrayBuffer's `len` bytes are at `data`.
    unsafe {
        check_status!(napi::sys::napi_create_arraybuffer(
            env.raw(),
            len,
            &mut data,
            &mut buffer
        ))?;
        Ok(JsBytes {
            buffer,
            at: 0,
            bytes: bytes_at(data, len),
        })
    }
}

/// # Safety
/// `data` points at `len` writable bytes that outlive `'e` (JS memory of the current call).
unsafe fn bytes_at<'e>(data: *mut std::ffi::c_void, len: usize) -> &'e mut [u8] {
    if len == 0 {
        // A zero-length buffer's data pointer may be null, which a slice may not be.
        &mut []
    } else {
        std::slice::from_raw_parts_mut(data.cast(), len)
    }
}

/// A typed array of `len` elements of `kind` at `byte_offset` in `buffer`.
fn view<T: FromNapiValue>(
    env: &Env,
    buffer: napi::sys::napi_value,
    kind: TypedArrayType,
    byte_offset: usize,
    len: usize,
) -> Result<T> {
    let mut array = std::ptr::null_mut();
    // SAFETY: `buffer` is an ArrayBuffer of the current call's handle scope, on the JS thread,
    // and the range lies within it.
    unsafe {
        check_status!(napi::sys::napi_create_typedarray(
            env.raw(),
            kind.into(),
            len,
            buffer,
            byte_offset,
            &mut array,
        ))?;
        T::from_napi_value(env.raw(), array)
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

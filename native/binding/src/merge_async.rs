//! Async merges: the same merges on the libuv thread pool, cancellable with an AbortSignal.
//!
//! Input errors reject the promise (with `code` `ERR_GATHER_INPUT`) instead of throwing, as a
//! promise-returning function should. An abort before the work starts is napi's own
//! cancellation (an `AbortError`); an abort after that, or a signal that was already aborted,
//! rejects with `code` `ERR_ABORTED` and name `AbortError`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;

use engram_core::InputError;

use crate::errors::{js_error, ABORTED};
use crate::parts::{
    held_pulse_parts, held_spread_parts, imagine_parts, indices, recall_parts, HeldPulsePart,
    HeldSpreadPart, ImaginePart, PulsePart, RecallPart, SpreadPart,
};
use crate::results::{ImagineMerged, PulseMerged, RecallMerged, SpreadMerged};

/// One kind of merge, run from owned parts.
pub trait Merge: Send + 'static {
    type Part: Send + 'static;
    type Output: Send + 'static;
    type Js: ToNapiValue + TypeName;
    /// Checks the scalar argument (limit / maxRows) on the JS thread.
    fn check_arg(arg: f64) -> std::result::Result<u32, InputError>;
    fn index(part: &Self::Part) -> f64;
    fn run(
        parts: &[Self::Part],
        indices: &[u32],
        arg: u32,
    ) -> std::result::Result<Self::Output, InputError>;
    fn to_js(env: &Env, output: Self::Output) -> napi::Result<Self::Js>;
}

pub struct MergeTask<M: Merge> {
    parts: Vec<M::Part>,
    /// The checked indices and argument, or the input error to reject with.
    input: std::result::Result<(Vec<u32>, u32), InputError>,
    aborted: Arc<AtomicBool>,
}

impl<M: Merge> MergeTask<M> {
    fn new(parts: Vec<M::Part>, arg: f64) -> Self {
        let input =
            M::check_arg(arg).and_then(|arg| Ok((indices(parts.iter().map(M::index))?, arg)));
        MergeTask {
            parts,
            input,
            aborted: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl<M: Merge> Task for MergeTask<M> {
    type Output = Option<std::result::Result<M::Output, InputError>>;
    type JsValue = M::Js;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        if self.aborted.load(Ordering::Acquire) {
            return Ok(None);
        }
        Ok(Some(match &self.input {
            Ok((indices, arg)) => M::run(&self.parts, indices, *arg),
            Err(e) => Err(e.clone()),
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<M::Js> {
        match output {
            _ if self.aborted.load(Ordering::Acquire) => {
                let message = "The operation was aborted".to_owned();
                Err(js_error(&env, ABORTED, Some("AbortError"), message))
            }
            None => unreachable!("compute only skips the merge once aborted"),
            Some(Ok(merged)) => M::to_js(&env, merged),
            Some(Err(e)) => Err(js_error(&env, InputError::CODE, None, e.message)),
        }
    }
}

/// Wraps the task with the optional signal; a signal that is already aborted aborts it now,
/// since napi only listens for a later `abort` event.
fn with_signal<M: Merge>(
    env: &Env,
    task: MergeTask<M>,
    signal: Option<Object<'_>>,
) -> napi::Result<AsyncTask<MergeTask<M>>> {
    let Some(object) = signal else {
        return Ok(AsyncTask::new(task));
    };
    if object.get_named_property::<bool>("aborted")? {
        task.aborted.store(true, Ordering::Release);
    }
    // SAFETY: `object` is a live value of the current call's handle scope, on the JS thread.
    let signal = unsafe { AbortSignal::from_napi_value(env.raw(), object.raw())? };
    let aborted = Arc::clone(&task.aborted);
    signal.on_abort(move || aborted.store(true, Ordering::Release));
    Ok(AsyncTask::with_signal(task, signal))
}

pub struct Recall;
pub struct Spread;
pub struct Pulses;
pub struct Imagine;

impl Merge for Recall {
    type Part = RecallPart;
    type Output = engram_core::RecallMerged;
    type Js = RecallMerged;
    fn check_arg(arg: f64) -> std::result::Result<u32, InputError> {
        engram_core::checked_u32("limit", arg)
    }
    fn index(part: &RecallPart) -> f64 {
        part.index
    }
    fn run(
        parts: &[RecallPart],
        indices: &[u32],
        limit: u32,
    ) -> std::result::Result<Self::Output, InputError> {
        engram_core::merge_recall(&recall_parts(parts, indices), limit)
    }
    fn to_js(_: &Env, output: Self::Output) -> napi::Result<RecallMerged> {
        Ok(output.into())
    }
}

impl Merge for Spread {
    type Part = HeldSpreadPart;
    type Output = engram_core::SpreadMerged;
    type Js = SpreadMerged;
    /// Spread has no limit; the argument only keeps the three async signatures aligned.
    fn check_arg(_: f64) -> std::result::Result<u32, InputError> {
        Ok(0)
    }
    fn index(part: &HeldSpreadPart) -> f64 {
        part.index
    }
    fn run(
        parts: &[HeldSpreadPart],
        indices: &[u32],
        _: u32,
    ) -> std::result::Result<Self::Output, InputError> {
        engram_core::merge_spread(&held_spread_parts(parts, indices))
    }
    fn to_js(env: &Env, output: Self::Output) -> napi::Result<SpreadMerged> {
        SpreadMerged::from_merged(env, output)
    }
}

impl Merge for Pulses {
    type Part = HeldPulsePart;
    type Output = engram_core::PulseMerged;
    type Js = PulseMerged;
    /// The pulse merge has no limit.
    fn check_arg(_: f64) -> std::result::Result<u32, InputError> {
        Ok(0)
    }
    fn index(part: &HeldPulsePart) -> f64 {
        part.index
    }
    fn run(
        parts: &[HeldPulsePart],
        indices: &[u32],
        _: u32,
    ) -> std::result::Result<Self::Output, InputError> {
        engram_core::merge_pulses(&held_pulse_parts(parts, indices))
    }
    fn to_js(env: &Env, output: Self::Output) -> napi::Result<PulseMerged> {
        PulseMerged::from_merged(env, output)
    }
}

impl Merge for Imagine {
    type Part = ImaginePart;
    type Output = engram_core::ImagineMerged;
    type Js = ImagineMerged;
    fn check_arg(arg: f64) -> std::result::Result<u32, InputError> {
        engram_core::checked_u32("maxRows", arg)
    }
    fn index(part: &ImaginePart) -> f64 {
        part.index
    }
    fn run(
        parts: &[ImaginePart],
        indices: &[u32],
        max_rows: u32,
    ) -> std::result::Result<Self::Output, InputError> {
        engram_core::merge_imagine(&imagine_parts(parts, indices), max_rows)
    }
    fn to_js(_: &Env, output: Self::Output) -> napi::Result<ImagineMerged> {
        Ok(output.into())
    }
}

/// `mergeRecall` on the thread pool.
#[napi(
    ts_args_type = "parts: Array<RecallPart>, limit: number, signal?: AbortSignal | undefined | null",
    ts_return_type = "Promise<RecallMerged>"
)]
pub fn merge_recall_async(
    env: Env,
    parts: Vec<RecallPart>,
    limit: f64,
    signal: Option<Object<'_>>,
) -> napi::Result<AsyncTask<MergeTask<Recall>>> {
    with_signal(&env, MergeTask::new(parts, limit), signal)
}

/// `mergeSpread` on the thread pool; `unused` is ignored (Spread has no limit).
#[napi(
    ts_args_type = "parts: Array<SpreadPart>, unused?: number | undefined | null, signal?: AbortSignal | undefined | null",
    ts_return_type = "Promise<SpreadMerged>"
)]
pub fn merge_spread_async(
    env: Env,
    parts: Vec<SpreadPart<'_>>,
    unused: Option<f64>,
    signal: Option<Object<'_>>,
) -> napi::Result<AsyncTask<MergeTask<Spread>>> {
    let parts = parts.into_iter().map(|p| p.hold(&env));
    let parts = parts.collect::<napi::Result<Vec<_>>>()?;
    with_signal(&env, MergeTask::new(parts, unused.unwrap_or(0.0)), signal)
}

/// `mergePulses` on the thread pool.
#[napi(
    ts_args_type = "parts: Array<PulsePart>, signal?: AbortSignal | undefined | null",
    ts_return_type = "Promise<PulseMerged>"
)]
pub fn merge_pulses_async(
    env: Env,
    parts: Vec<PulsePart<'_>>,
    signal: Option<Object<'_>>,
) -> napi::Result<AsyncTask<MergeTask<Pulses>>> {
    let parts = parts.into_iter().map(|p| p.hold(&env));
    let parts = parts.collect::<napi::Result<Vec<_>>>()?;
    with_signal(&env, MergeTask::new(parts, 0.0), signal)
}

/// `mergeImagine` on the thread pool.
#[napi(
    ts_args_type = "parts: Array<ImaginePart>, maxRows: number, signal?: AbortSignal | undefined | null",
    ts_return_type = "Promise<ImagineMerged>"
)]
pub fn merge_imagine_async(
    env: Env,
    parts: Vec<ImaginePart>,
    max_rows: f64,
    signal: Option<Object<'_>>,
) -> napi::Result<AsyncTask<MergeTask<Imagine>>> {
    with_signal(&env, MergeTask::new(parts, max_rows), signal)
}

//! JS errors with a stable string `code` (napi puts an `Error<S>`'s status string there).

use napi::bindgen_prelude::*;
use napi::{Env, JsError};

use engram_core::InputError;

/// Code of the rejection of an async merge whose AbortSignal fired.
pub const ABORTED: &str = "ERR_ABORTED";

/// An adapter returning `Result<T, &'static str>` (napi's alias for `Result<T, Error<&str>>`)
/// throws an Error whose `code` is that string instead of a napi `Status` name.
pub fn input_error(e: InputError) -> Error<&'static str> {
    Error::new(InputError::CODE, e.message)
}

/// A failed N-API call, for an adapter whose errors carry a string code.
pub fn napi_error(e: Error) -> Error<&'static str> {
    Error::new("ERR_NAPI", format!("{}: {}", e.status, e.reason))
}

/// A JS Error object with `code` (and `name`, if given), wrapped so that an async task can
/// reject with exactly that object: napi's `Task` errors only carry a `Status`.
pub fn js_error(env: &Env, code: &'static str, name: Option<&str>, message: String) -> Error {
    let error = JsError::from(Error::new(code, message)).into_unknown(*env);
    if let Some(name) = name {
        if let Ok(mut object) = error.coerce_to_object() {
            // Best effort: without the name the error still has its code.
            let _ = object.set_named_property("name", name);
        }
    }
    Error::from(error)
}

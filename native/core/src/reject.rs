//! What a merge reports instead of failing: rejected partitions (data) and input errors (throws).

use std::fmt;

use crate::text::json_string;

/// Stable codes of a rejected partition, in the order the spec checks them.
pub mod code {
    pub const BAD_OFFSETS: &str = "BAD_OFFSETS";
    pub const TOO_LARGE: &str = "TOO_LARGE";
    pub const COLUMN_LENGTH: &str = "COLUMN_LENGTH";
    pub const BAD_UTF8: &str = "BAD_UTF8";
    pub const BAD_VALUE: &str = "BAD_VALUE";
    pub const DUPLICATE_ID: &str = "DUPLICATE_ID";
}

/// A partition result left out of a merge; reported to the caller, never thrown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Plan index of the partition.
    pub partition: u32,
    /// One of [`code`].
    pub code: &'static str,
    /// Names the partition and the problem, e.g. `partition 3: offsets[7]=90 > blob length 64`.
    pub message: String,
}

impl Rejection {
    pub(crate) fn new(partition: u32, code: &'static str, problem: String) -> Self {
        Rejection {
            partition,
            code,
            message: format!("partition {partition}: {problem}"),
        }
    }

    /// Check 7: row `row` repeats an id seen earlier in the same partition.
    pub(crate) fn duplicate_id(partition: u32, row: usize, id: &[u8]) -> Self {
        let id = json_string(&String::from_utf8_lossy(id));
        Rejection::new(
            partition,
            code::DUPLICATE_ID,
            format!("row {row} repeats id {id}"),
        )
    }
}

/// A programming error in the caller's input (duplicate or invalid partition index), or an
/// input too large to merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub message: String,
}

impl InputError {
    /// The `code` of the JS error this becomes.
    pub const CODE: &'static str = "ERR_GATHER_INPUT";

    pub(crate) fn not_u32(name: &str, value: f64) -> Self {
        let got = crate::text::js_number(value);
        InputError {
            message: format!("{name} must be an integer in [0, 4294967295] (got {got})"),
        }
    }

    /// Merged ids whose blob `u32` offsets cannot address.
    pub(crate) fn ids_too_long(bytes: usize) -> Self {
        InputError {
            message: format!("merged ids take {bytes} bytes, more than u32 offsets address"),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InputError {}

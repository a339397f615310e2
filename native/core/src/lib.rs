//! Algorithms of the Engram query layer, free of N-API so `cargo test` runs without Node.
//!
//! The gather merges implement `docs/gather-spec.md` exactly; the pure-TS reference in
//! `src/gather` implements the same contract and the two must agree bit for bit.

pub mod columns;
pub mod ids;
pub mod imagine;
pub mod membership;
pub mod penalty;
pub mod pick;
pub mod plan;
pub mod pulse;
pub mod raft;
pub mod recall;
pub mod reject;
pub mod scratch;
pub mod spread;
pub mod text;

#[cfg(test)]
mod testing;

pub use columns::MAX_PARTITION_ROWS;
pub use imagine::{merge_imagine, ImagineMerged, ImaginePart};
pub use pick::pick_one;
pub use plan::checked_u32;
pub use pulse::{
    merge_pulses, merge_pulses_with, write_pulse_columns, PulseLayout, PulseMerged, PulseOutput,
    PulsePart,
};
pub use recall::{merge_recall, RecallMerged, RecallPart};
pub use reject::{code, InputError, Rejection};
pub use spread::{merge_spread, merge_spread_with, SpreadMerged, SpreadOutput, SpreadPart};

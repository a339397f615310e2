//! Algorithms of the Engram query layer, free of N-API so `cargo test` runs without Node.

pub mod penalty;

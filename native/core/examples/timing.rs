//! Rough timings of the DESIGN §6 P1-P3 shapes from Rust, without the N-API hop; the real
//! benchmarks are the tinybench ones in `bench/`.
//! Run: `cargo run --release --manifest-path native/Cargo.toml -p engram-core --example timing`.

use std::hint::black_box;
use std::time::Instant;

use engram_core::penalty::apply_penalty;
use engram_core::{merge_recall, merge_spread, RecallPart, SpreadPart};

struct Wire(u32, Vec<u8>, Vec<u8>, Vec<u8>);

/// `parts` partitions of `rows` ids each; a share `overlap` of every partition's ids is common
/// to all partitions, the rest unique to it.
fn partitions(parts: u32, rows: u32, overlap: f64) -> Vec<Wire> {
    let shared = (rows as f64 * overlap) as u32;
    (0..parts)
        .map(|p| {
            let mut blob = Vec::new();
            let mut offsets = 0u32.to_le_bytes().to_vec();
            let mut values = Vec::new();
            for r in 0..rows {
                let n = if r < shared {
                    r
                } else {
                    1_000_000 * (p + 1) + r
                };
                blob.extend(format!("memory-{n:010}").as_bytes());
                offsets.extend((blob.len() as u32).to_le_bytes());
                values.extend((((r % 97) as f32) / 200.0).to_le_bytes());
            }
            Wire(p, blob, offsets, values)
        })
        .collect()
}

fn time<F: FnMut()>(label: &str, iterations: u32, mut f: F) {
    for _ in 0..iterations / 10 + 1 {
        f();
    }
    let mut samples: Vec<f64> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    let p50 = samples[samples.len() / 2];
    let p99 = samples[samples.len() * 99 / 100];
    println!("{label}: p50 {p50:.4} ms, p99 {p99:.4} ms");
}

/// The ids bench/gather.ts gives P1: even rows `memory-{row}` in every partition, odd rows
/// `memory-{partition}-{row}` (8–14 bytes, so each is compared by its fingerprint alone).
fn bench_partitions(parts: u32, rows: u32) -> Vec<Wire> {
    (0..parts)
        .map(|k| {
            let mut blob = Vec::new();
            let mut offsets = 0u32.to_le_bytes().to_vec();
            let mut values = Vec::new();
            for j in 0..rows {
                let id = if j % 2 == 0 {
                    format!("memory-{j}")
                } else {
                    format!("memory-{k}-{j}")
                };
                blob.extend(id.as_bytes());
                offsets.extend((blob.len() as u32).to_le_bytes());
                values.extend((((j % 97) as f32) / 200.0).to_le_bytes());
            }
            Wire(k, blob, offsets, values)
        })
        .collect()
}

fn spread(label: &str, wire: &[Wire]) {
    let parts: Vec<SpreadPart> = wire
        .iter()
        .map(|w| SpreadPart {
            index: w.0,
            ids: &w.1,
            offsets: &w.2,
            activation: &w.3,
        })
        .collect();
    time(label, 300, || {
        black_box(merge_spread(black_box(&parts)).unwrap());
    });
}

fn p1_spread_10x10000_half_overlap() {
    spread(
        "P1 spread 10 x 10000 (50% overlap, bench ids)",
        &bench_partitions(10, 10_000),
    );
    spread(
        "P1 spread 10 x 10000 (50% overlap, 17-byte ids)",
        &partitions(10, 10_000, 0.5),
    );
}

fn p2_recall_10x100_30pct_duplicates() {
    let wire = partitions(10, 100, 0.3);
    let parts: Vec<RecallPart> = wire
        .iter()
        .map(|w| RecallPart {
            index: w.0,
            ids: &w.1,
            offsets: &w.2,
            lower: &w.3,
            upper: &w.3,
        })
        .collect();
    time("P2 recall 10 x 100 (30% duplicates)", 3000, || {
        black_box(merge_recall(black_box(&parts), 100).unwrap());
    });
}

fn p3_penalty_1m_floats() {
    let mut values = vec![0.75f32; 1_000_000];
    time("P3 apply_penalty 1,000,000 f32", 300, || {
        apply_penalty(black_box(&mut values), black_box(0.2));
    });
}

fn main() {
    p1_spread_10x10000_half_overlap();
    p2_recall_10x100_30pct_duplicates();
    p3_penalty_1m_floats();
}

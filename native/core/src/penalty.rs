//! Confidence penalty for partitions that did not answer (DESIGN §3).

/// Largest penalty ever applied, whatever is missing.
pub const MAX_PENALTY: f32 = 0.5;
/// Extra penalty while this node is cut off from part of the cluster.
pub const PARTITIONED_PENALTY: f32 = 0.1;

/// `min(missing / expected + (partitioned ? 0.1 : 0), 0.5)`; 0 when nothing is missing.
pub fn penalty(expected: u32, missing: u32, partitioned: bool) -> f32 {
    if missing == 0 || expected == 0 {
        return 0.0;
    }
    let missing = missing.min(expected);
    let base = missing as f64 / expected as f64;
    let extra = if partitioned { PARTITIONED_PENALTY as f64 } else { 0.0 };
    (base + extra).min(MAX_PENALTY as f64) as f32
}

/// Multiplies every value by `1 - penalty`, in place.
pub fn apply_penalty(values: &mut [f32], penalty: f32) {
    if penalty == 0.0 {
        return;
    }
    let factor = 1.0 - penalty;
    for v in values.iter_mut() {
        *v *= factor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_of_five_is_capped_at_half() {
        // 2 of 5 missing = 0.4, under the cap.
        assert!((penalty(5, 2, false) - 0.4).abs() < 1e-6);
        assert!((penalty(5, 2, true) - 0.5).abs() < 1e-6);
        assert_eq!(penalty(5, 0, true), 0.0);
    }
}

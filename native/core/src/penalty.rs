//! Confidence penalty for partitions that did not answer (DESIGN §3).

/// Largest penalty ever applied, whatever is missing.
pub const MAX_PENALTY: f64 = 0.5;
/// Extra penalty while this node is cut off from part of the cluster.
// f64 on purpose: an f32 0.1 widened to f64 is 0.10000000149..., which would round some
// results differently from the TS implementation's `0.1`.
pub const PARTITIONED_PENALTY: f64 = 0.1;

/// `min(missing / expected + (partitioned ? 0.1 : 0), 0.5)` in f64, returned as f32; 0 when
/// nothing is missing. `missing` is clamped to `expected`.
pub fn penalty(expected: u32, missing: u32, partitioned: bool) -> f32 {
    if missing == 0 || expected == 0 {
        return 0.0;
    }
    let missing = missing.min(expected);
    let extra = if partitioned {
        PARTITIONED_PENALTY
    } else {
        0.0
    };
    (missing as f64 / expected as f64 + extra).min(MAX_PENALTY) as f32
}

/// `values[i] = f32(values[i] * f32(1 - penalty))`, in place; no-op when `penalty` is 0.
pub fn apply_penalty(values: &mut [f32], penalty: f32) {
    if penalty == 0.0 {
        return;
    }
    // 1 - p is exact in f64 for an f32 p, so the f32 subtraction rounds the same as the spec's
    // f32(1 - p); a plain loop over a slice lets LLVM vectorize the multiply.
    let factor = 1.0 - penalty;
    for v in values.iter_mut() {
        *v *= factor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_of_five_responding_is_point_four() {
        assert_eq!(penalty(5, 2, false), 0.4f32);
        // Partitioned adds 0.1, capped at 0.5.
        assert_eq!(penalty(5, 2, true), 0.5f32);
        assert_eq!(penalty(10, 1, true), (0.1f64 + 0.1).min(0.5) as f32);
    }

    #[test]
    fn nothing_missing_is_no_penalty() {
        assert_eq!(penalty(5, 0, true), 0.0);
        assert_eq!(penalty(0, 3, true), 0.0);
    }

    #[test]
    fn missing_is_clamped_and_result_capped() {
        assert_eq!(penalty(3, 7, false), 0.5);
        assert_eq!(penalty(4, 1, false), 0.25);
    }

    #[test]
    fn apply_multiplies_in_f32() {
        let mut v = [1.0f32, 0.5, 0.3];
        apply_penalty(&mut v, 0.4);
        let f = 1.0f32 - 0.4f32;
        assert_eq!(v, [f, 0.5 * f, 0.3 * f]);
        let mut w = [0.7f32];
        apply_penalty(&mut w, 0.0);
        assert_eq!(w, [0.7]);
    }
}

//! Processing order of the parts: ascending plan index, whatever order they arrived in.

use crate::reject::InputError;

/// A JS number that must be a u32 (partition index, limit, count): an integer in `0..=u32::MAX`.
pub fn checked_u32(name: &str, raw: f64) -> Result<u32, InputError> {
    if raw.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&raw) {
        Ok(raw as u32)
    } else {
        Err(InputError::not_u32(name, raw))
    }
}

/// Positions of the parts sorted by their index; two parts with one index is an input error.
pub fn ascending(indices: &[u32]) -> Result<Vec<usize>, InputError> {
    let mut order: Vec<usize> = (0..indices.len()).collect();
    order.sort_unstable_by_key(|&p| (indices[p], p));
    for pair in order.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if indices[a] == indices[b] {
            return Err(InputError {
                message: format!("two partition results have index {}", indices[a]),
            });
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_index() {
        assert_eq!(ascending(&[7, 2, 5]).unwrap(), vec![1, 2, 0]);
        assert_eq!(ascending(&[]).unwrap(), Vec::<usize>::new());
    }

    #[test]
    fn duplicate_index_is_an_input_error() {
        let e = ascending(&[4, 1, 4]).unwrap_err();
        assert_eq!(e.message, "two partition results have index 4");
    }

    #[test]
    fn message_spells_the_value_as_javascript() {
        let e = checked_u32("partition index", -1.5).unwrap_err();
        assert_eq!(
            e.message,
            "partition index must be an integer in [0, 4294967295] (got -1.5)"
        );
    }

    #[test]
    fn index_must_be_a_u32() {
        assert_eq!(checked_u32("limit", 3.0), Ok(3));
        assert_eq!(checked_u32("limit", 4294967295.0), Ok(u32::MAX));
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 4294967296.0, -0.5] {
            assert!(checked_u32("limit", bad).is_err(), "{bad}");
        }
    }
}

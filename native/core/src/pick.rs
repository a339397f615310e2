//! Complete / Consolidate: keep one answer out of the copies that arrived.

/// The first copy that came from a primary, else the first copy; `None` for no copies.
pub fn pick_one(primary: &[bool]) -> Option<usize> {
    if primary.is_empty() {
        return None;
    }
    Some(primary.iter().position(|&p| p).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_first_else_first_copy() {
        assert_eq!(pick_one(&[false, true, true]), Some(1));
        assert_eq!(pick_one(&[false, false]), Some(0));
        assert_eq!(pick_one(&[]), None);
    }
}

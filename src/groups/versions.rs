//! STUB
/// STUB
pub fn compare(_a: &str, _b: &str) -> Option<std::cmp::Ordering> {
    None
}

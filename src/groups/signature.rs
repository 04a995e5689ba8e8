//! STUB
use crate::decode::Analysis;
/// STUB
pub const ALGORITHM: &str = "v1";
/// STUB
#[derive(Debug, Clone)]
pub struct Signature {
    /// STUB
    pub hash: String,
    /// STUB
    pub reason: String,
    /// STUB
    pub frames: Vec<String>,
    /// STUB
    pub in_app: bool,
    /// STUB
    pub title: String,
    /// STUB
    pub top_frame: Option<usize>,
}
/// STUB
pub fn from_analysis(_model: &str, _a: &Analysis) -> Option<Signature> {
    None
}
/// STUB
pub fn from_report_text(_model: &str, _text: &str) -> Option<Signature> {
    None
}

//! Display rows shared by several pages: database rows turned into the strings templates
//! show, so templates stay free of formatting logic.

use super::layout::{badge, size, utc};
use crate::db::dashboard::DumpRow;

/// A dump in a table (device page, home page).
pub struct DumpView {
    pub id: i64,
    pub device_id: i64,
    pub device_key: String,
    pub chip: String,
    pub firmware: String,
    pub size: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub uploaded_at: String,
    pub uploaded_utc: String,
}

impl From<&DumpRow> for DumpView {
    fn from(r: &DumpRow) -> DumpView {
        let (status, status_class) = badge(r.status);
        DumpView {
            id: r.id.0,
            device_id: r.device_id.0,
            device_key: r.device_key.clone(),
            chip: r.chip.clone(),
            firmware: r.firmware_version.clone(),
            size: size(r.size),
            status,
            status_class,
            uploaded_at: r.uploaded_at.to_string(),
            uploaded_utc: utc(r.uploaded_at),
        }
    }
}

//! Display rows shared by several pages: database rows turned into the strings templates
//! show, so templates stay free of formatting logic.

use super::layout::{badge, size, utc};
use crate::db::dashboard::DumpRow;

/// A dump in a table (device page, home page).
pub struct DumpView {
    /// The dump's row id.
    pub id: i64,
    /// Row id of the device that uploaded it.
    pub device_id: i64,
    /// Key of the device that uploaded it.
    pub device_key: String,
    /// The chip the device reported.
    pub chip: String,
    /// The firmware version the device reported.
    pub firmware: String,
    /// Size of the dump, human-readable.
    pub size: String,
    /// Status badge text (`Pending`, `Parsed`, `Error`).
    pub status: &'static str,
    /// Status badge CSS modifier (`pending`, `parsed`, `error`).
    pub status_class: &'static str,
    /// When the dump was stored, as stored (RFC 3339), for `<time datetime>`.
    pub uploaded_at: String,
    /// When the dump was stored, as shown without JavaScript (`YYYY-MM-DD HH:MM UTC`).
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

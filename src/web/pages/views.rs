//! Display rows shared by several pages: database rows turned into the strings templates
//! show, so templates stay free of formatting logic.

use super::layout::{badge, size, utc};
use crate::db::coredumps::{ParseErrorKind, ParseStatus};
use crate::db::dashboard::DumpRow;
use crate::db::groups::{Group, GroupStatus};

/// A dump in a table (device page, home page, group page).
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
    /// The crash column: its group as (id, title), `None` when it has none.
    pub group: Option<(i64, String)>,
    /// What the crash column says for a dump without a group.
    pub ungrouped: &'static str,
    /// Why it has none (tooltip).
    pub ungrouped_hint: &'static str,
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
            group: r.group_id.map(|g| {
                let title = r.group_title.clone().unwrap_or_default();
                (g.0, title)
            }),
            ungrouped: ungrouped_text(r.status, r.error_kind),
            ungrouped_hint: ungrouped_hint(r.status, r.error_kind),
        }
    }
}

/// The crash column of a dump without a group: whether one is still to come.
pub fn ungrouped_text(status: ParseStatus, kind: Option<ParseErrorKind>) -> &'static str {
    match (status, kind) {
        (ParseStatus::Pending, _) => "not grouped yet",
        (ParseStatus::Error, Some(ParseErrorKind::FirmwareMissing)) => "waiting for firmware",
        (ParseStatus::Error, _) => "not decoded",
        (ParseStatus::Parsed, _) => "not grouped",
    }
}

/// The tooltip of the crash column of a dump without a group.
pub fn ungrouped_hint(status: ParseStatus, kind: Option<ParseErrorKind>) -> &'static str {
    match (status, kind) {
        (ParseStatus::Pending, _) => "It is grouped once it is decoded.",
        (ParseStatus::Error, Some(ParseErrorKind::FirmwareMissing)) => {
            "It is decoded and grouped once its firmware version is uploaded with the ELF."
        }
        (ParseStatus::Error, _) => "It could not be decoded, so it has no crash group.",
        (ParseStatus::Parsed, _) => {
            "Its frames could not be read with the firmware's symbols (no matching ELF, or no named frame), so it has no crash group."
        }
    }
}

/// A crash group in a list or at the head of its page.
pub struct GroupView {
    /// The group's row id.
    pub id: i64,
    /// Its title, e.g. `abort() in fail_once (main.c:14)`.
    pub title: String,
    /// Its model's code.
    pub model: String,
    /// Status badge text (`open`, `resolved`, `muted`).
    pub status: &'static str,
    /// Whether it reopened by a dump from a version newer than its fix.
    pub regressed: bool,
    /// Dumps ever counted (lifetime).
    pub count: i64,
    /// Distinct devices (lifetime).
    pub devices: i64,
    /// Firmware version of its first dump.
    pub first_version: String,
    /// Firmware version of its newest dump.
    pub last_version: String,
    /// Upload time of its first dump as (stored, display UTC).
    pub first_seen: (String, String),
    /// Upload time of its newest dump as (stored, display UTC).
    pub last_seen: (String, String),
    /// The version it was resolved in; empty when never resolved.
    pub resolved_in: String,
    /// The reason class as words (`abort() was called`, `Assertion failed`, `LoadProhibited`).
    pub reason: String,
}

impl From<&Group> for GroupView {
    fn from(g: &Group) -> GroupView {
        GroupView {
            id: g.id.0,
            title: g.title.clone(),
            model: g.model.to_string(),
            status: g.status.as_str(),
            regressed: g.regressed,
            count: g.count,
            devices: g.devices,
            first_version: g.first_version.clone(),
            last_version: g.last_version.clone(),
            first_seen: (g.first_seen.to_string(), utc(g.first_seen)),
            last_seen: (g.last_seen.to_string(), utc(g.last_seen)),
            resolved_in: g.resolved_in_version.clone().unwrap_or_default(),
            reason: reason_words(&g.reason),
        }
    }
}

impl GroupView {
    /// The group is open.
    pub fn is_open(&self) -> bool {
        self.status == GroupStatus::Open.as_str()
    }
    /// The group is resolved.
    pub fn is_resolved(&self) -> bool {
        self.status == GroupStatus::Resolved.as_str()
    }
    /// The group is muted.
    pub fn is_muted(&self) -> bool {
        self.status == GroupStatus::Muted.as_str()
    }
}

/// Reason classes of a software-triggered panic: the program stopped itself, and the CPU
/// fault the panic path raises to get there is not the cause.
pub const SOFTWARE_REASONS: &[&str] = &[
    "abort",
    "assert",
    "esp_error_check",
    "task_wdt",
    "stack_overflow",
];

/// A signature's reason class in words; an exception name is shown as it is.
pub fn reason_words(reason: &str) -> String {
    match reason {
        "abort" => "abort() was called",
        "assert" => "Assertion failed",
        "esp_error_check" => "ESP_ERROR_CHECK failed",
        "task_wdt" => "Task watchdog timeout",
        "int_wdt" => "Interrupt watchdog timeout",
        "stack_overflow" => "Stack overflow",
        "cache_err" => "Cache error (cached memory accessed while the cache was disabled)",
        "unknown" => "Unknown",
        other => other,
    }
    .to_string()
}

/// A source path as the frame table shows it: the part after the last `components/` folder
/// (`…/esp-idf/components/esp_system/panic.c` → `esp_system/panic.c`), else the file and its
/// folder (`/home/me/app/main/main.c` → `main/main.c`). Windows separators are read as `/`.
pub fn short_path(file: &str) -> String {
    let path = file.replace('\\', "/");
    if let Some(i) = path.rfind("components/") {
        let rest = &path[i + "components/".len()..];
        if !rest.is_empty() {
            return rest.to_string();
        }
    }
    let mut parts = path.rsplit('/').filter(|p| !p.is_empty());
    match (parts.next(), parts.next()) {
        (Some(name), Some(dir)) => format!("{dir}/{name}"),
        (Some(name), None) => name.to_string(),
        _ => path,
    }
}

/// How long ago a device was last seen, in words: `never seen`, `seen today` (within 24 h),
/// `not seen for N days`.
pub fn seen_text(
    last: Option<crate::ids::Timestamp>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    match last {
        None => "never seen".into(),
        Some(t) => match now.signed_duration_since(t.as_datetime()).num_days() {
            ..=0 => "seen today".into(),
            1 => "not seen for 1 day".into(),
            n => format!("not seen for {n} days"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shortened() {
        assert_eq!(
            short_path("/opt/esp/idf/components/esp_system/panic.c"),
            "esp_system/panic.c"
        );
        assert_eq!(
            short_path("/builds/app/managed_components/espressif__led_strip/src/led.c"),
            "espressif__led_strip/src/led.c"
        );
        assert_eq!(
            short_path(r"C:\Espressif\frameworks\esp-idf-v5.2\components\freertos\tasks.c"),
            "freertos/tasks.c"
        );
        assert_eq!(short_path("/src/main/sensor.c"), "main/sensor.c");
        assert_eq!(short_path("main.c"), "main.c");
    }

    #[test]
    fn reasons_in_words() {
        assert_eq!(reason_words("abort"), "abort() was called");
        assert_eq!(reason_words("Load access fault"), "Load access fault");
    }

    #[test]
    fn ungrouped_says_whether_a_group_may_come() {
        assert_eq!(
            ungrouped_text(ParseStatus::Pending, None),
            "not grouped yet"
        );
        assert_eq!(
            ungrouped_text(ParseStatus::Error, Some(ParseErrorKind::FirmwareMissing)),
            "waiting for firmware"
        );
        assert_eq!(
            ungrouped_text(ParseStatus::Error, Some(ParseErrorKind::DecodeFailed)),
            "not decoded"
        );
        assert_eq!(ungrouped_text(ParseStatus::Parsed, None), "not grouped");
    }

    #[test]
    fn seen_in_words() {
        let now = chrono::Utc::now();
        let ts = |h: i64| {
            Some(crate::ids::Timestamp::from(
                now - chrono::Duration::hours(h),
            ))
        };
        assert_eq!(super::seen_text(None, now), "never seen");
        assert_eq!(super::seen_text(ts(3), now), "seen today");
        assert_eq!(super::seen_text(ts(30), now), "not seen for 1 day");
        assert_eq!(super::seen_text(ts(24 * 9 + 1), now), "not seen for 9 days");
    }
}

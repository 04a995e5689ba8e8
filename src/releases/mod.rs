//! Release health per model and firmware version: how many devices run it, how many of those
//! seen in the last 7 days crashed on it (crash-free devices, Memfault's "crash-free devices"
//! over a window), its dumps, the crash groups it introduced, and its last 30 days per day.
//! Behind `GET /api/models/{code}/releases`, the model page and the release page. Blocking.
//!
//! The denominators come from device check-ins (`fleet::checkins`): a device counts as seen on a
//! version when it polled with that `current_version` or uploaded a dump reported with it.

use serde::Serialize;

use crate::db::releases::{self, Figures, NewGroup};
use crate::db::{Db, format_ts, models};
use crate::error::{Error, Result};
use crate::groups::versions;

/// The crash-free window, in days.
pub const WINDOW_DAYS: i64 = 7;
/// Days in the release chart, today (UTC) included.
pub const CHART_DAYS: i64 = 30;
/// Most versions listed per model (the newest).
pub const MAX_RELEASES: usize = 100;
/// Most new groups listed on a release page.
pub const MAX_NEW_GROUPS: i64 = 100;

/// One version's health, as `GET /api/models/{code}/releases` answers it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Release {
    /// The version.
    pub version: String,
    /// When it was uploaded (`null`: reported by devices but not stored here).
    pub uploaded_at: Option<String>,
    /// Devices running it now (their last reported version).
    pub devices: i64,
    /// Devices seen on it in the last 7 days.
    pub devices_seen_7d: i64,
    /// Of those, devices that sent a dump from it in the last 7 days.
    pub devices_crashed_7d: i64,
    /// Share of `devices_seen_7d` that sent no dump from it in those days (0 to 1); `null` when
    /// no device was seen.
    pub crash_free_7d: Option<f64>,
    /// Dumps from it (lifetime, also those deleted since).
    pub dumps: i64,
    /// Dumps from it in the last 7 days.
    pub dumps_7d: i64,
    /// Crash groups whose first version it is.
    pub new_groups: i64,
}

/// Crash-free share: `(seen - crashed) / seen`, `None` without devices seen.
pub fn crash_free(seen: i64, crashed: i64) -> Option<f64> {
    (seen > 0).then(|| (seen - crashed.clamp(0, seen)) as f64 / seen as f64)
}

fn release(version: String, f: Figures) -> Release {
    Release {
        crash_free_7d: crash_free(f.devices_seen, f.devices_crashed),
        version,
        uploaded_at: f.uploaded_at,
        devices: f.devices,
        devices_seen_7d: f.devices_seen,
        devices_crashed_7d: f.devices_crashed,
        dumps: f.dumps,
        dumps_7d: f.dumps_window,
        new_groups: f.new_groups,
    }
}

/// Newest first: uploaded versions by upload time, then versions only devices reported, by
/// version order (semver / `git describe`), then by name.
fn order(a: &Release, b: &Release) -> std::cmp::Ordering {
    match (&a.uploaded_at, &b.uploaded_at) {
        (Some(x), Some(y)) => y.cmp(x).then_with(|| b.version.cmp(&a.version)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => {
            versions::compare(&b.version, &a.version).unwrap_or_else(|| b.version.cmp(&a.version))
        }
    }
}

fn window(now: chrono::DateTime<chrono::Utc>, days: i64) -> (String, String) {
    let start = now - chrono::Duration::days(days);
    // The day window counts whole UTC days, today included.
    let first_day = (now.date_naive() - chrono::Duration::days(days - 1))
        .format("%Y-%m-%d")
        .to_string();
    (format_ts(start), first_day)
}

/// Every version of model `code`, newest first (at most [`MAX_RELEASES`]).
pub fn list(db: &Db, code: &str) -> Result<Vec<Release>> {
    let conn = db.conn()?;
    let model =
        models::find_by_code(&conn, code)?.ok_or_else(|| Error::not_found("DeviceModel", code))?;
    let (since, since_day) = window(chrono::Utc::now(), WINDOW_DAYS);
    let mut out: Vec<Release> = releases::figures(&conn, model.id, None, &since, &since_day)?
        .into_iter()
        .map(|(v, f)| release(v, f))
        .collect();
    out.sort_by(order);
    out.truncate(MAX_RELEASES);
    Ok(out)
}

/// One day of a release's chart.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Day {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Devices seen on the version that day.
    pub devices: i64,
    /// Dumps from the version that day.
    pub dumps: i64,
}

/// A release page: the figures, its last [`CHART_DAYS`] days (every day, oldest first) and
/// the groups it introduced.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    /// The model's code.
    pub model: String,
    /// The figures.
    pub release: Release,
    /// One entry per day.
    pub days: Vec<Day>,
    /// Groups first seen in this version, newest first.
    pub groups: Vec<NewGroup>,
    /// It is the model target.
    pub is_target: bool,
}

/// `days` with every day of the chart present (zeros where there is no row).
pub fn fill_days(today: chrono::NaiveDate, rows: &[(String, i64, i64)]) -> Vec<Day> {
    (0..CHART_DAYS)
        .map(|i| {
            let day = (today - chrono::Duration::days(CHART_DAYS - 1 - i))
                .format("%Y-%m-%d")
                .to_string();
            let (devices, dumps) = rows
                .iter()
                .find(|r| r.0 == day)
                .map(|r| (r.1, r.2))
                .unwrap_or((0, 0));
            Day {
                day,
                devices,
                dumps,
            }
        })
        .collect()
}

/// One version of model `code`; `NotFound` when it was never uploaded nor reported.
pub fn detail(db: &Db, code: &str, version: &str) -> Result<Detail> {
    let conn = db.conn()?;
    let model =
        models::find_by_code(&conn, code)?.ok_or_else(|| Error::not_found("DeviceModel", code))?;
    let now = chrono::Utc::now();
    let (since, since_day) = window(now, WINDOW_DAYS);
    let figures = releases::figures(&conn, model.id, Some(version), &since, &since_day)?;
    let f = figures
        .into_iter()
        .find(|(v, _)| v == version)
        .map(|(_, f)| f)
        .ok_or_else(|| Error::not_found("Release", version))?;
    let (_, chart_day) = window(now, CHART_DAYS);
    let rows = releases::days(&conn, model.id, version, &chart_day)?;
    let groups = releases::new_groups(&conn, model.id, version, MAX_NEW_GROUPS)?;
    Ok(Detail {
        model: model.code.to_string(),
        is_target: model.firmware_version.as_ref().map(|v| v.as_str()) == Some(version),
        release: release(version.to_string(), f),
        days: fill_days(now.date_naive(), &rows),
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_free_is_the_share_without_dumps() {
        assert_eq!(crash_free(0, 0), None);
        assert_eq!(crash_free(4, 1), Some(0.75));
        assert_eq!(crash_free(2, 0), Some(1.0));
        assert_eq!(crash_free(2, 5), Some(0.0), "clamped");
    }

    #[test]
    fn the_chart_has_every_day() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap_or_default();
        let d = fill_days(today, &[("2026-12-01".into(), 3, 1)]);
        assert_eq!(d.len(), CHART_DAYS as usize);
        assert_eq!(d.last().map(|d| d.day.as_str()), Some("2026-12-02"));
        assert_eq!(d.get(28).map(|d| (d.devices, d.dumps)), Some((3, 1)));
    }
}

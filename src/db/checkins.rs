//! Device check-ins and release presence: `devices.last_seen_at` / `running_version`, the
//! versions each device was seen on (`device_versions`, also the source of crash-free counts),
//! per model / version / UTC day totals (`release_days`: devices seen, dumps) and lifetime dumps
//! per version (`release_dumps`). The throttle that decides *when* a check-in is written is in
//! `crate::fleet::checkins`; this file only writes and reads rows.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{DbError, format_ts};
use crate::ids::{DeviceId, ModelId};

/// Versions remembered per device (the newest by last sighting).
pub const HISTORY_KEPT: i64 = 10;

/// One sighting of a device, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckIn {
    /// The device.
    pub device: DeviceId,
    /// Its model.
    pub model: ModelId,
    /// The version it said it runs (`None`: a poll without `current_version`).
    pub version: Option<String>,
    /// When it was seen.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Writes one check-in: last seen (never moved backwards), running version, and the sighting
/// on that version ([`seen_on`]). A device deleted in the meantime is skipped.
pub fn record(tx: &Connection, c: &CheckIn) -> Result<(), DbError> {
    let at = format_ts(c.at);
    let found = tx
        .prepare_cached(
            "UPDATE devices SET last_seen_at = MAX(COALESCE(last_seen_at, ''), ?2),
                running_version = COALESCE(?3, running_version)
             WHERE id = ?1",
        )?
        .execute(params![c.device, at, c.version])?
        > 0;
    // A device deleted since its poll: nothing to record (and no history row to orphan).
    if !found {
        return Ok(());
    }
    if let Some(version) = &c.version {
        seen_on(tx, c.device, c.model, version, &at)?;
    }
    Ok(())
}

/// Records that `device` was seen on `version` at `at` (stored form): its `device_versions`
/// row (created, history trimmed to [`HISTORY_KEPT`], or its last sighting moved on) and, on
/// its first sighting on that version that UTC day, one more device in `release_days`.
fn seen_on(
    tx: &Connection,
    device: DeviceId,
    model: ModelId,
    version: &str,
    at: &str,
) -> Result<(), DbError> {
    let day = at.get(..10).unwrap_or(at);
    let before: Option<String> = tx
        .prepare_cached(
            "SELECT last_seen_at FROM device_versions WHERE device_id = ?1 AND version = ?2",
        )?
        .query_row(params![device, version], |r| r.get(0))
        .optional()?;
    let first_today = match &before {
        None => {
            tx.prepare_cached(
                "INSERT INTO device_versions (device_id, device_model_id, version, first_seen_at,
                    last_seen_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            )?
            .execute(params![device, model, version, at])?;
            tx.prepare_cached(
                "DELETE FROM device_versions WHERE device_id = ?1 AND version NOT IN (
                    SELECT version FROM device_versions WHERE device_id = ?1
                    ORDER BY last_seen_at DESC LIMIT ?2)",
            )?
            .execute(params![device, HISTORY_KEPT])?;
            true
        }
        Some(prev) => {
            if prev.as_str() < at {
                tx.prepare_cached(
                    "UPDATE device_versions SET last_seen_at = ?3
                     WHERE device_id = ?1 AND version = ?2",
                )?
                .execute(params![device, version, at])?;
            }
            prev.get(..10).unwrap_or(prev) < day
        }
    };
    if first_today {
        tx.prepare_cached(
            "INSERT INTO release_days (device_model_id, version, day, devices) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT DO UPDATE SET devices = devices + 1",
        )?
        .execute(params![model, version, day])?;
    }
    Ok(())
}

/// Counts a stored dump for its version (inside the upload's transaction, so each dump is
/// counted once): the device was seen on it, its newest dump from it, the day's and the
/// lifetime dump tallies.
pub fn count_dump(
    tx: &Connection,
    device: DeviceId,
    model: ModelId,
    version: &str,
    t: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbError> {
    let at = format_ts(t);
    seen_on(tx, device, model, version, &at)?;
    tx.prepare_cached(
        "UPDATE device_versions SET last_dump_at = MAX(COALESCE(last_dump_at, ''), ?3)
         WHERE device_id = ?1 AND version = ?2",
    )?
    .execute(params![device, version, at])?;
    tx.prepare_cached(
        "INSERT INTO release_days (device_model_id, version, day, dumps) VALUES (?1, ?2, ?3, 1)
         ON CONFLICT DO UPDATE SET dumps = dumps + 1",
    )?
    .execute(params![model, version, at.get(..10).unwrap_or(&at)])?;
    tx.prepare_cached(
        "INSERT INTO release_dumps (device_model_id, version, dumps, first_seen_at)
         VALUES (?1, ?2, 1, ?3)
         ON CONFLICT DO UPDATE SET dumps = dumps + 1",
    )?
    .execute(params![model, version, at])?;
    Ok(())
}

/// Drops day totals of days before `before` (`YYYY-MM-DD`); the number dropped.
pub fn prune_days(tx: &Connection, before: &str) -> Result<usize, DbError> {
    Ok(tx.execute("DELETE FROM release_days WHERE day < ?1", [before])?)
}

/// A version a device was seen running.
#[derive(Debug, Clone, Serialize)]
pub struct VersionSeen {
    /// The version as the device reported it.
    pub version: String,
    /// First time it was seen on it.
    pub first_seen_at: String,
    /// Last time it was seen on it.
    pub last_seen_at: String,
    /// Its newest dump from that version.
    pub last_dump_at: Option<String>,
}

/// The versions a device was seen on, newest first sighting first.
pub fn history(conn: &Connection, device: DeviceId) -> Result<Vec<VersionSeen>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, first_seen_at, last_seen_at, last_dump_at FROM device_versions
         WHERE device_id = ?1 ORDER BY first_seen_at DESC, version LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![device, HISTORY_KEPT], |r| {
            Ok(VersionSeen {
                version: r.get(0)?,
                first_seen_at: r.get(1)?,
                last_seen_at: r.get(2)?,
                last_dump_at: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

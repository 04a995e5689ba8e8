//! The dashboard's own read queries: home-page counts, a device's dumps page by page, and the
//! newest dumps of the fleet. Each page is one or two queries, so no page does N+1 round trips.
//! (The device list is [`super::devices::search`], shared with the API; a model's firmware
//! versions are [`super::firmware::list_for_model`].)

use rusqlite::{Connection, Row, params};

use super::coredumps::{Coredump, ParseStatus};
use super::{DbError, Page};
use crate::ids::{CoredumpId, DeviceId, DeviceKey, Timestamp};

/// The numbers on the home page.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Registered devices.
    pub devices: i64,
    /// Device models.
    pub models: i64,
    /// Stored dumps, all devices.
    pub dumps_total: i64,
    /// Dumps stored in the last 24 hours.
    pub dumps_24h: i64,
    /// Dumps stored in the last 7 days.
    pub dumps_7d: i64,
    /// Dumps waiting to be parsed (`PENDING`).
    pub pending: i64,
    /// Dumps whose parse failed (`ERROR`).
    pub errors: i64,
}

/// Counts for the home page; `day_ago` and `week_ago` are database timestamps.
pub fn counts(conn: &Connection, day_ago: &str, week_ago: &str) -> Result<Counts, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT (SELECT COUNT(*) FROM devices),
                (SELECT COUNT(*) FROM device_models),
                (SELECT COUNT(*) FROM coredumps),
                (SELECT COUNT(*) FROM coredumps WHERE uploaded_at >= ?1),
                (SELECT COUNT(*) FROM coredumps WHERE uploaded_at >= ?2),
                (SELECT COUNT(*) FROM coredumps WHERE parse_status = 'PENDING'),
                (SELECT COUNT(*) FROM coredumps WHERE parse_status = 'ERROR')",
        )?
        .query_row(params![day_ago, week_ago], |r| {
            Ok(Counts {
                devices: r.get(0)?,
                models: r.get(1)?,
                dumps_total: r.get(2)?,
                dumps_24h: r.get(3)?,
                dumps_7d: r.get(4)?,
                pending: r.get(5)?,
                errors: r.get(6)?,
            })
        })?)
}

/// A dump as listed on the device and home pages (no report, no analysis).
#[derive(Debug, Clone)]
pub struct DumpRow {
    /// The dump's row id.
    pub id: CoredumpId,
    /// Row id of the device that uploaded it.
    pub device_id: DeviceId,
    /// Key of the device that uploaded it.
    pub device_key: String,
    /// The chip the device reported.
    pub chip: String,
    /// The firmware version the device reported.
    pub firmware_version: String,
    /// Size of the dump in bytes.
    pub size: i64,
    /// Where the decode stands.
    pub status: ParseStatus,
    /// When the dump was stored.
    pub uploaded_at: Timestamp,
}

fn dump_row(r: &Row) -> rusqlite::Result<DumpRow> {
    Ok(DumpRow {
        id: CoredumpId(r.get(0)?),
        device_id: DeviceId(r.get(1)?),
        device_key: r.get(2)?,
        chip: r.get(3)?,
        firmware_version: r.get(4)?,
        size: r.get(5)?,
        status: r.get(6)?,
        uploaded_at: r.get(7)?,
    })
}

/// One page of a device's dumps, newest first, with the device's total dump count.
pub fn dump_page(
    conn: &Connection,
    device: DeviceId,
    limit: i64,
    offset: i64,
) -> Result<Page<DumpRow>, DbError> {
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM coredumps WHERE device_id = ?1")?
        .query_row([device.0], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.device_id, d.key, c.chip, c.firmware_version, c.size, c.parse_status,
                c.uploaded_at
         FROM coredumps c JOIN devices d ON d.id = c.device_id
         WHERE c.device_id = ?1
         ORDER BY c.uploaded_at DESC, c.id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt
        .query_map(params![device.0, limit, offset], dump_row)?
        .collect::<Result<_, _>>()?;
    Ok(Page { rows, total })
}

/// The newest dumps of the whole fleet.
pub fn recent_dumps(conn: &Connection, limit: i64) -> Result<Vec<DumpRow>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.device_id, d.key, c.chip, c.firmware_version, c.size, c.parse_status,
                c.uploaded_at
         FROM coredumps c JOIN devices d ON d.id = c.device_id
         ORDER BY c.uploaded_at DESC, c.id DESC LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([limit], dump_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A dump with its device key, for the dump page (one query).
pub fn find_dump(
    conn: &Connection,
    device: DeviceId,
    id: CoredumpId,
) -> Result<Option<(Coredump, DeviceKey)>, DbError> {
    let Some(dump) = super::coredumps::find(conn, device, id)? else {
        return Ok(None);
    };
    let key = super::devices::find(conn, device)?.map(|d| d.key);
    Ok(key.map(|k| (dump, k)))
}

//! The dashboard's own read queries: home-page counts, a device's dumps page by page, the
//! newest dumps of the fleet, a dump with what its page says about it, and what a crash
//! group's page shows beyond `crate::groups::service::detail` (dumps per day, its stored dumps,
//! which of its devices still exist). Each page is a fixed number of queries, so no page does
//! N+1 round trips.
//! (The device list is [`super::devices::search`], shared with the API; a model's firmware
//! versions are [`super::firmware::list_for_model`].)

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::coredumps::{Coredump, ParseErrorKind, ParseStatus};
use super::{DbError, Page};
use crate::ids::{CoredumpId, DeviceId, DeviceKey, GroupId, ModelCode, Timestamp};

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
                t.total,
                (SELECT COUNT(*) FROM coredumps WHERE uploaded_at >= ?1),
                (SELECT COUNT(*) FROM coredumps WHERE uploaded_at >= ?2),
                t.pending,
                t.errors
             FROM coredump_totals t WHERE t.id = 1",
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
    /// Why an `ERROR` dump failed.
    pub error_kind: Option<ParseErrorKind>,
    /// Its crash group; `None` until it is decoded with symbols.
    pub group_id: Option<GroupId>,
    /// That group's title (`abort() in fail_once (main.c:14)`).
    pub group_title: Option<String>,
}

/// The columns [`dump_row`] reads, from `coredumps c JOIN devices d LEFT JOIN crash_groups g`.
const DUMP_COLUMNS: &str = "SELECT c.id, c.device_id, d.key, c.chip, c.firmware_version, c.size,
        c.parse_status, c.uploaded_at, c.parse_error_kind, c.group_id, g.title
     FROM coredumps c JOIN devices d ON d.id = c.device_id
     LEFT JOIN crash_groups g ON g.id = c.group_id";

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
        error_kind: r.get(8)?,
        group_id: r.get(9)?,
        group_title: r.get(10)?,
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
    let mut stmt = conn.prepare_cached(&format!(
        "{DUMP_COLUMNS} WHERE c.device_id = ?1
         ORDER BY c.uploaded_at DESC, c.id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = stmt
        .query_map(params![device.0, limit, offset], dump_row)?
        .collect::<Result<_, _>>()?;
    Ok(Page { rows, total })
}

/// The newest dumps of the whole fleet.
pub fn recent_dumps(conn: &Connection, limit: i64) -> Result<Vec<DumpRow>, DbError> {
    // The newest rows first, then their device and group: joined the other way round, the
    // planner may walk every device's dumps and sort them all (seconds at 100,000 dumps).
    let mut stmt = conn.prepare_cached(&format!(
        "{} WHERE c.id IN (SELECT id FROM coredumps ORDER BY uploaded_at DESC, id DESC LIMIT ?1)
         ORDER BY c.uploaded_at DESC, c.id DESC",
        DUMP_COLUMNS
    ))?;
    let rows = stmt
        .query_map([limit], dump_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A dump with what its page shows around it.
#[derive(Debug, Clone)]
pub struct DumpContext {
    /// The dump, with its report and analysis.
    pub dump: Coredump,
    /// Key of its device.
    pub device_key: DeviceKey,
    /// Code of its device's model.
    pub model: ModelCode,
    /// Title of its crash group, when it has one.
    pub group_title: Option<String>,
    /// Whether the model stores the dump's firmware version: `None` when it does not,
    /// `Some(has_elf)` when it does.
    pub firmware_has_elf: Option<bool>,
}

/// A dump of a device, with its device key, model, group title and whether its firmware
/// version is stored (for the dump page; two queries).
pub fn find_dump(
    conn: &Connection,
    device: DeviceId,
    id: CoredumpId,
) -> Result<Option<DumpContext>, DbError> {
    let Some(dump) = super::coredumps::find(conn, device, id)? else {
        return Ok(None);
    };
    let around = conn
        .prepare_cached(
            "SELECT d.key, m.code,
                (SELECT title FROM crash_groups WHERE id = ?2),
                (SELECT has_elf FROM firmware_versions f
                 WHERE f.device_model_id = m.id AND f.version = ?3)
             FROM devices d JOIN device_models m ON m.id = d.device_model_id
             WHERE d.id = ?1",
        )?
        .query_row(
            params![device.0, dump.group_id, dump.firmware_version],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    Ok(around.map(
        |(device_key, model, group_title, firmware_has_elf)| DumpContext {
            dump,
            device_key,
            model,
            group_title,
            firmware_has_elf,
        },
    ))
}

/// Stored dumps of a group per UTC day (`YYYY-MM-DD`, oldest first) uploaded at or after
/// `since` (a database timestamp); days without dumps are left out.
pub fn dumps_per_day(
    conn: &Connection,
    group: GroupId,
    since: &str,
) -> Result<Vec<(String, i64)>, DbError> {
    let rows = conn
        .prepare_cached(
            "SELECT substr(uploaded_at, 1, 10) AS day, COUNT(*) FROM coredumps
             WHERE group_id = ?1 AND uploaded_at >= ?2 GROUP BY day ORDER BY day",
        )?
        .query_map(params![group, since], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The newest stored dumps of a group (all devices), at most `limit`.
pub fn group_dumps(conn: &Connection, group: GroupId, limit: i64) -> Result<Vec<DumpRow>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{DUMP_COLUMNS} WHERE c.group_id = ?1 ORDER BY c.uploaded_at DESC, c.id DESC LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(params![group, limit], dump_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The devices counted in a group that still exist (same id and key: a deleted device's id
/// may be reused), for links on the group page.
pub fn group_devices_present(conn: &Connection, group: GroupId) -> Result<Vec<DeviceId>, DbError> {
    let rows = conn
        .prepare_cached(
            "SELECT d.id FROM crash_group_devices g
             JOIN devices d ON d.id = g.device_id AND d.key = g.device_key
             WHERE g.group_id = ?1",
        )?
        .query_map([group], |r| Ok(DeviceId(r.get(0)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// How many signatures lead to a group: 1, plus one for each group merged into it.
pub fn group_signature_count(conn: &Connection, group: GroupId) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM crash_group_signatures WHERE group_id = ?1")?
        .query_row([group], |r| r.get(0))?)
}

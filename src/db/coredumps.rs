//! `coredumps`: one row per stored dump. A `PENDING` row is also a parse job.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{DbError, now};
use crate::ids::{CoredumpId, DeviceId};

/// Where a dump is in its decode: `PENDING → PARSED | ERROR` (and back to `PENDING` on re-parse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ParseStatus {
    Pending,
    Parsed,
    Error,
}

impl ParseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ParseStatus::Pending => "PENDING",
            ParseStatus::Parsed => "PARSED",
            ParseStatus::Error => "ERROR",
        }
    }
    fn from_db(s: &str) -> ParseStatus {
        match s {
            "PARSED" => ParseStatus::Parsed,
            "ERROR" => ParseStatus::Error,
            _ => ParseStatus::Pending,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Coredump {
    pub id: CoredumpId,
    pub device_id: DeviceId,
    pub filename: String,
    pub chip: String,
    pub firmware_version: String,
    pub size: i64,
    pub parse_status: ParseStatus,
    /// Only filled by the detail finders.
    pub parsed_output: Option<String>,
    /// JSON of the built-in decoder's analysis; only filled by the detail finders.
    pub analysis: Option<String>,
    pub uploaded_at: String,
    pub parsed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Columns of a summary; the detail variant adds the two large text columns.
const SUMMARY: &str =
    "SELECT id, device_id, filename, chip, firmware_version, size, parse_status, NULL, NULL,
        uploaded_at, parsed_at, created_at, updated_at FROM coredumps";
const DETAIL: &str =
    "SELECT id, device_id, filename, chip, firmware_version, size, parse_status, parsed_output,
        analysis, uploaded_at, parsed_at, created_at, updated_at FROM coredumps";

fn from_row(r: &Row) -> rusqlite::Result<Coredump> {
    Ok(Coredump {
        id: CoredumpId(r.get(0)?),
        device_id: DeviceId(r.get(1)?),
        filename: r.get(2)?,
        chip: r.get(3)?,
        firmware_version: r.get(4)?,
        size: r.get(5)?,
        parse_status: ParseStatus::from_db(&r.get::<_, String>(6)?),
        parsed_output: r.get(7)?,
        analysis: r.get(8)?,
        uploaded_at: r.get(9)?,
        parsed_at: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

pub struct NewCoredump<'a> {
    pub device_id: DeviceId,
    pub filename: &'a str,
    pub chip: &'a str,
    pub firmware_version: &'a str,
    pub size: i64,
    pub uploaded_at: &'a str,
}

pub fn insert(conn: &Connection, c: &NewCoredump) -> Result<CoredumpId, DbError> {
    conn.prepare_cached(
        "INSERT INTO coredumps (device_id, filename, chip, firmware_version, size, parse_status,
                                uploaded_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'PENDING', ?6, ?6, ?6)",
    )?
    .execute(params![
        c.device_id.0,
        c.filename,
        c.chip,
        c.firmware_version,
        c.size,
        c.uploaded_at
    ])?;
    Ok(CoredumpId(conn.last_insert_rowid()))
}

/// A device's dumps, newest first (summaries).
pub fn list_for_device(conn: &Connection, device: DeviceId) -> Result<Vec<Coredump>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SUMMARY} WHERE device_id = ?1 ORDER BY uploaded_at DESC, id DESC"
    ))?;
    let rows = stmt
        .query_map([device.0], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// One dump, only if it belongs to `device` (detail).
pub fn find(
    conn: &Connection,
    device: DeviceId,
    id: CoredumpId,
) -> Result<Option<Coredump>, DbError> {
    Ok(conn
        .query_row(
            &format!("{DETAIL} WHERE id = ?1 AND device_id = ?2"),
            params![id.0, device.0],
            from_row,
        )
        .optional()?)
}

/// One dump by id alone (detail), for the parse worker.
pub fn find_by_id(conn: &Connection, id: CoredumpId) -> Result<Option<Coredump>, DbError> {
    Ok(conn
        .query_row(&format!("{DETAIL} WHERE id = ?1"), [id.0], from_row)
        .optional()?)
}

pub fn delete(conn: &Connection, device: DeviceId, id: CoredumpId) -> Result<bool, DbError> {
    Ok(conn.execute(
        "DELETE FROM coredumps WHERE id = ?1 AND device_id = ?2",
        params![id.0, device.0],
    )? > 0)
}

/// Deletes every dump of a device; returns their file names.
pub fn delete_all(conn: &Connection, device: DeviceId) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare("DELETE FROM coredumps WHERE device_id = ?1 RETURNING filename")?;
    let names = stmt
        .query_map([device.0], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(names)
}

/// Deletes all but the newest `keep` dumps of a device; returns the evicted file names.
pub fn delete_beyond(
    conn: &Connection,
    device: DeviceId,
    keep: u32,
) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare_cached(
        "DELETE FROM coredumps WHERE id IN (
            SELECT id FROM coredumps WHERE device_id = ?1
            ORDER BY uploaded_at DESC, id DESC LIMIT -1 OFFSET ?2)
         RETURNING filename",
    )?;
    let names = stmt
        .query_map(params![device.0, keep], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(names)
}

pub fn count_for_device(conn: &Connection, device: DeviceId) -> Result<i64, DbError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM coredumps WHERE device_id = ?1",
        [device.0],
        |r| r.get(0),
    )?)
}

/// Every stored dump as (id, device key, file name), for reconciling with the files on disk.
pub fn all_files(conn: &Connection) -> Result<Vec<(CoredumpId, String, String)>, DbError> {
    let mut stmt = conn.prepare(
        "SELECT c.id, d.key, c.filename FROM coredumps c JOIN devices d ON d.id = c.device_id",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((CoredumpId(r.get(0)?), r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn delete_by_ids(conn: &Connection, ids: &[CoredumpId]) -> Result<usize, DbError> {
    let mut stmt = conn.prepare_cached("DELETE FROM coredumps WHERE id = ?1")?;
    let mut n = 0;
    for id in ids {
        n += stmt.execute([id.0])?;
    }
    Ok(n)
}

/// Records the final outcome of a parse. `false` when the row no longer exists.
pub fn set_result(
    conn: &Connection,
    id: CoredumpId,
    status: ParseStatus,
    parsed_output: Option<&str>,
    analysis: Option<&str>,
) -> Result<bool, DbError> {
    let ts = now();
    Ok(conn.execute(
        "UPDATE coredumps SET parse_status = ?2, parsed_output = ?3, analysis = ?4, parsed_at = ?5, updated_at = ?5
         WHERE id = ?1",
        params![id.0, status.as_str(), parsed_output, analysis, ts],
    )? > 0)
}

// --- Firmware hooks (firmware uploads and retention) -------------------------------------

/// Text prefix of the parse error recorded when a dump's firmware bundle/ELF is missing.
pub const MISSING_FIRMWARE_PREFIX: &str = "Unable to parse coredump: firmware ZIP not found";

/// Puts back in the queue every dump of the model's devices, reported with `version`, whose parse
/// failed because that version's firmware bundle was missing. Returns their ids (to enqueue
/// after the commit).
pub fn requeue_missing_firmware(
    conn: &Connection,
    model: crate::ids::ModelId,
    version: &str,
) -> Result<Vec<CoredumpId>, DbError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE coredumps SET parse_status = 'PENDING', parsed_output = NULL, analysis = NULL,
                parsed_at = NULL, updated_at = ?3
         WHERE parse_status = 'ERROR' AND parsed_output LIKE ?4 || '%'
           AND firmware_version = ?2
           AND device_id IN (SELECT id FROM devices WHERE device_model_id = ?1)
         RETURNING id",
    )?;
    let ids = stmt
        .query_map(
            params![model.0, version, now(), MISSING_FIRMWARE_PREFIX],
            |r| Ok(CoredumpId(r.get(0)?)),
        )?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// The firmware versions that `PENDING` dumps of the model's devices were reported with: the
/// versions whose ELF a parse job still needs, which firmware retention must keep.
pub fn pending_firmware_versions(
    conn: &Connection,
    model: crate::ids::ModelId,
) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT c.firmware_version FROM coredumps c
         JOIN devices d ON d.id = c.device_id
         WHERE d.device_model_id = ?1 AND c.parse_status = 'PENDING'",
    )?;
    let rows = stmt
        .query_map([model.0], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

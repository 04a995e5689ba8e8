//! `coredumps`: one row per stored dump. A `PENDING` row is also a parse job.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{DbError, now};
use crate::ids::{CoredumpId, DeviceId, FirmwareVersion, GroupId, ModelId, Timestamp};

/// Where a dump is in its decode: `PENDING → PARSED | ERROR` (and back to `PENDING` on re-parse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ParseStatus {
    /// Waiting for (or in) a parse job.
    Pending,
    /// Decoded: `parsed_output` holds the report.
    Parsed,
    /// Not decoded: `parsed_output` says why, `parse_error_kind` classifies it.
    Error,
}

impl ParseStatus {
    /// The stored (and API) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ParseStatus::Pending => "PENDING",
            ParseStatus::Parsed => "PARSED",
            ParseStatus::Error => "ERROR",
        }
    }

    /// Parses the stored spelling; anything else is `None` (never guessed).
    pub fn parse(s: &str) -> Option<ParseStatus> {
        match s {
            "PENDING" => Some(ParseStatus::Pending),
            "PARSED" => Some(ParseStatus::Parsed),
            "ERROR" => Some(ParseStatus::Error),
            _ => None,
        }
    }
}

/// Why a dump ended in `ERROR` (column `parse_error_kind`). The text in `parsed_output` is for
/// people; code decides on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParseErrorKind {
    /// No firmware bundle (or app ELF) for the dump's model and version yet: the dump waits,
    /// and is queued again when that version is uploaded.
    FirmwareMissing,
    /// The stored `.dmp` file is missing or unreadable.
    DumpUnreadable,
    /// The built-in decoder rejected the dump.
    DecodeFailed,
    /// The parse sidecar failed on every attempt.
    SidecarFailed,
    /// Runs kept dying (panic, process killed) and the dump was given up.
    Interrupted,
}

impl ParseErrorKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ParseErrorKind::FirmwareMissing => "firmware_missing",
            ParseErrorKind::DumpUnreadable => "dump_unreadable",
            ParseErrorKind::DecodeFailed => "decode_failed",
            ParseErrorKind::SidecarFailed => "sidecar_failed",
            ParseErrorKind::Interrupted => "interrupted",
        }
    }

    /// Parses the stored spelling; anything else is `None`.
    pub fn parse(s: &str) -> Option<ParseErrorKind> {
        [
            ParseErrorKind::FirmwareMissing,
            ParseErrorKind::DumpUnreadable,
            ParseErrorKind::DecodeFailed,
            ParseErrorKind::SidecarFailed,
            ParseErrorKind::Interrupted,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

super::sql_enum!(ParseStatus);
super::sql_enum!(ParseErrorKind);

/// The final outcome of a parse, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `PARSED`.
    Parsed,
    /// `ERROR`, of this kind.
    Failed(ParseErrorKind),
}

impl Verdict {
    /// The status it is stored as.
    pub fn status(self) -> ParseStatus {
        match self {
            Verdict::Parsed => ParseStatus::Parsed,
            Verdict::Failed(_) => ParseStatus::Error,
        }
    }

    /// The error kind it is stored with (`None` when parsed).
    pub fn error_kind(self) -> Option<ParseErrorKind> {
        match self {
            Verdict::Parsed => None,
            Verdict::Failed(k) => Some(k),
        }
    }
}

/// One row of `coredumps`: a stored dump and where its decode stands.
#[derive(Debug, Clone, Serialize)]
pub struct Coredump {
    /// The dump's row id.
    pub id: CoredumpId,
    /// The device that uploaded it.
    pub device_id: DeviceId,
    /// File name under the device's directory in `COREDUMPS_DIR` (`coredump_<time>Z.dmp`).
    pub filename: String,
    /// As the device reported it (any printable text up to 64 characters).
    pub chip: String,
    /// As the device reported it (any printable text up to 64 characters; not necessarily a
    /// stored [`crate::ids::FirmwareVersion`]).
    pub firmware_version: String,
    /// Size of the stored dump in bytes.
    pub size: i64,
    /// Where the decode stands.
    pub parse_status: ParseStatus,
    /// Why an `ERROR` row failed; not part of the API (which shows upstream's text).
    #[serde(skip)]
    pub parse_error_kind: Option<ParseErrorKind>,
    /// The crash group (null until the dump is decoded with symbols).
    pub group_id: Option<GroupId>,
    /// Only filled by the detail finders.
    pub parsed_output: Option<String>,
    /// JSON of the built-in decoder's analysis; only filled by the detail finders.
    pub analysis: Option<String>,
    /// When the dump was stored (UTC).
    pub uploaded_at: Timestamp,
    /// When the last parse finished (parsed or not); `None` while none has finished.
    pub parsed_at: Option<Timestamp>,
    /// When the row was inserted (UTC); equal to `uploaded_at` for uploads.
    pub created_at: Timestamp,
    /// When the row last changed (UTC).
    pub updated_at: Timestamp,
}

/// Columns of a summary; the detail variant adds the two large text columns.
const SUMMARY: &str =
    "SELECT id, device_id, filename, chip, firmware_version, size, parse_status, parse_error_kind,
        group_id, NULL, NULL, uploaded_at, parsed_at, created_at, updated_at FROM coredumps";
const DETAIL: &str =
    "SELECT id, device_id, filename, chip, firmware_version, size, parse_status, parse_error_kind,
        group_id, parsed_output, analysis, uploaded_at, parsed_at, created_at, updated_at FROM coredumps";

fn from_row(r: &Row) -> rusqlite::Result<Coredump> {
    Ok(Coredump {
        id: r.get(0)?,
        device_id: r.get(1)?,
        filename: r.get(2)?,
        chip: r.get(3)?,
        firmware_version: r.get(4)?,
        size: r.get(5)?,
        parse_status: r.get(6)?,
        parse_error_kind: r.get(7)?,
        group_id: r.get(8)?,
        parsed_output: r.get(9)?,
        analysis: r.get(10)?,
        uploaded_at: r.get(11)?,
        parsed_at: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

/// The columns of a new dump row; it is inserted `PENDING`.
pub struct NewCoredump<'a> {
    /// The uploading device.
    pub device_id: DeviceId,
    /// File name under the device's directory, from [`crate::store::Layout`].
    pub filename: &'a str,
    /// The chip the device reported.
    pub chip: &'a str,
    /// The firmware version the device reported.
    pub firmware_version: &'a str,
    /// Size of the dump in bytes.
    pub size: i64,
    /// When the dump was stored; also the row's `created_at`/`updated_at`.
    pub uploaded_at: Timestamp,
}

/// Inserts a new `PENDING` dump row and returns its id.
pub fn insert(conn: &Connection, c: &NewCoredump) -> Result<CoredumpId, DbError> {
    conn.prepare_cached(
        "INSERT INTO coredumps (device_id, filename, chip, firmware_version, size, parse_status,
                                uploaded_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'PENDING', ?6, ?6, ?6)",
    )?
    .execute(params![
        c.device_id,
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

/// Deletes one dump if it belongs to `device`; `false` when there was none.
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

/// Number of stored dumps of a device.
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

/// Deletes the rows with these ids (missing ids are skipped); returns how many went.
pub fn delete_by_ids(conn: &Connection, ids: &[CoredumpId]) -> Result<usize, DbError> {
    let mut stmt = conn.prepare_cached("DELETE FROM coredumps WHERE id = ?1")?;
    let mut n = 0;
    for id in ids {
        n += stmt.execute([id.0])?;
    }
    Ok(n)
}

/// Records the final outcome of a parse outside a job's claim (imports, tests). `false` when the
/// row no longer exists.
pub fn set_result(
    conn: &Connection,
    id: CoredumpId,
    verdict: Verdict,
    parsed_output: Option<&str>,
    analysis: Option<&str>,
) -> Result<bool, DbError> {
    Ok(conn.execute(
        "UPDATE coredumps SET parse_status = ?2, parse_error_kind = ?3, parsed_output = ?4,
                analysis = ?5, parsed_at = ?6, updated_at = ?6
         WHERE id = ?1",
        params![
            id,
            verdict.status(),
            verdict.error_kind(),
            parsed_output,
            analysis,
            now()
        ],
    )? > 0)
}

// --- Firmware hooks (firmware uploads and retention) -------------------------------------

/// Puts back in the queue every dump of the model's devices, reported with `version`, that is
/// waiting for that version's firmware ([`ParseErrorKind::FirmwareMissing`]). Returns their ids
/// (to enqueue after the commit).
pub fn requeue_missing_firmware(
    conn: &Connection,
    model: ModelId,
    version: &FirmwareVersion,
) -> Result<Vec<CoredumpId>, DbError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE coredumps SET parse_status = 'PENDING', parse_error_kind = NULL,
                parsed_output = NULL, analysis = NULL, parsed_at = NULL, updated_at = ?3
         WHERE parse_status = 'ERROR' AND parse_error_kind = ?4
           AND firmware_version = ?2
           AND device_id IN (SELECT id FROM devices WHERE device_model_id = ?1)
         RETURNING id",
    )?;
    let ids = stmt
        .query_map(
            params![model, version, now(), ParseErrorKind::FirmwareMissing],
            |r| r.get(0),
        )?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// The firmware versions that `PENDING` dumps of the model's devices were reported with: the
/// versions whose ELF a parse job still needs, which firmware retention must keep.
pub fn pending_firmware_versions(
    conn: &Connection,
    model: ModelId,
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

//! `firmware_versions`: the stored firmware versions of each model, newest upload first.
//! A row exists for every version whose files crashbox keeps (bundle and/or app image).

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{DbError, now};
use crate::ids::{FirmwareVersion, ModelId, Timestamp};

/// One row of `firmware_versions`: a stored firmware version of a model.
#[derive(Debug, Clone, Serialize)]
pub struct FirmwareRow {
    /// The version's row id.
    pub id: i64,
    /// Row id of the model it belongs to.
    pub model_id: ModelId,
    /// The version string (safe in file names).
    pub version: FirmwareVersion,
    /// Hex SHA-256 of the app image (`.bin`): the device download's ETag.
    pub sha256: String,
    /// Bytes of the app image.
    pub size: i64,
    /// Bytes of the stored ZIP bundle; `None` for a legacy raw `.bin` upload.
    pub bundle_size: Option<i64>,
    /// Whether the bundle carried the app ELF (needed to decode dumps of this version).
    pub has_elf: bool,
    /// When the version was last uploaded (UTC).
    pub uploaded_at: Timestamp,
}

const SELECT: &str = "SELECT id, device_model_id, version, sha256, size, bundle_size, has_elf,
        uploaded_at FROM firmware_versions";

fn from_row(r: &Row) -> rusqlite::Result<FirmwareRow> {
    Ok(FirmwareRow {
        id: r.get(0)?,
        model_id: r.get(1)?,
        version: r.get(2)?,
        sha256: r.get(3)?,
        size: r.get(4)?,
        bundle_size: r.get(5)?,
        has_elf: r.get(6)?,
        uploaded_at: r.get(7)?,
    })
}

/// What an upload records about a version.
pub struct NewFirmware<'a> {
    /// The model it belongs to.
    pub model_id: ModelId,
    /// The version string (a validated [`FirmwareVersion`]'s text).
    pub version: &'a str,
    /// Hex SHA-256 of the app image (`.bin`).
    pub sha256: &'a str,
    /// Bytes of the app image.
    pub size: i64,
    /// Bytes of the stored ZIP bundle; `None` for a legacy raw `.bin` upload.
    pub bundle_size: Option<i64>,
    /// Whether the bundle carried the app ELF.
    pub has_elf: bool,
    /// When it was uploaded; `None` means now.
    pub uploaded_at: Option<&'a str>,
}

/// Inserts a version, or replaces the facts of an existing one (a re-upload also bumps
/// `uploaded_at`, so it counts as the newest again).
pub fn upsert(conn: &Connection, f: &NewFirmware) -> Result<FirmwareRow, DbError> {
    let ts = now();
    conn.execute(
        "INSERT INTO firmware_versions
            (device_model_id, version, sha256, size, bundle_size, has_elf, uploaded_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (device_model_id, version) DO UPDATE SET
            sha256 = excluded.sha256, size = excluded.size, bundle_size = excluded.bundle_size,
            has_elf = excluded.has_elf, uploaded_at = excluded.uploaded_at",
        params![
            f.model_id.0,
            f.version,
            f.sha256,
            f.size,
            f.bundle_size,
            f.has_elf,
            f.uploaded_at.unwrap_or(&ts),
            ts
        ],
    )?;
    find(conn, f.model_id, f.version)?.ok_or(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
}

/// The row of one version of a model, if stored.
pub fn find(
    conn: &Connection,
    model: ModelId,
    version: &str,
) -> Result<Option<FirmwareRow>, DbError> {
    Ok(conn
        .query_row(
            &format!("{SELECT} WHERE device_model_id = ?1 AND version = ?2"),
            params![model.0, version],
            from_row,
        )
        .optional()?)
}

/// A model's versions, newest upload first.
pub fn list_for_model(conn: &Connection, model: ModelId) -> Result<Vec<FirmwareRow>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE device_model_id = ?1 ORDER BY uploaded_at DESC, id DESC"
    ))?;
    let rows = stmt
        .query_map([model.0], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Deletes one version's row; `false` when there was none.
pub fn delete(conn: &Connection, model: ModelId, version: &str) -> Result<bool, DbError> {
    Ok(conn.execute(
        "DELETE FROM firmware_versions WHERE device_model_id = ?1 AND version = ?2",
        params![model.0, version],
    )? > 0)
}

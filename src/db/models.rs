//! `device_models`: the kinds of device; each owns its firmware.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{DbError, now};
use crate::ids::{FirmwareVersion, ModelCode, ModelId, Timestamp};

/// One row of `device_models`, with its device count.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// The model's row id.
    pub id: ModelId,
    /// The model's code (`[a-z0-9_]`, 1–50 characters): its name in URLs and on disk.
    pub code: ModelCode,
    /// Display name.
    pub name: String,
    /// The current firmware version: the last one uploaded.
    pub firmware_version: Option<FirmwareVersion>,
    /// Number of devices of this model.
    pub device_count: i64,
    /// When the model was created (UTC).
    pub created_at: Timestamp,
    /// When the row last changed, e.g. a new current firmware (UTC).
    pub updated_at: Timestamp,
}

const SELECT: &str = "SELECT m.id, m.code, m.name, m.firmware_version,
        (SELECT COUNT(*) FROM devices d WHERE d.device_model_id = m.id), m.created_at, m.updated_at
     FROM device_models m";

fn from_row(r: &Row) -> rusqlite::Result<Model> {
    Ok(Model {
        id: r.get(0)?,
        code: r.get(1)?,
        name: r.get(2)?,
        firmware_version: r.get(3)?,
        device_count: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

/// Inserts a model; `None` when the code is taken.
pub fn insert(conn: &Connection, code: &str, name: &str) -> Result<Option<Model>, DbError> {
    let ts = now();
    let n = conn.execute(
        "INSERT INTO device_models (code, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT(code) DO NOTHING",
        params![code, name, ts],
    )?;
    if n == 0 {
        return Ok(None);
    }
    find_by_code(conn, code)
}

/// The model with code `code`, if any.
pub fn find_by_code(conn: &Connection, code: &str) -> Result<Option<Model>, DbError> {
    Ok(conn
        .query_row(&format!("{SELECT} WHERE m.code = ?1"), [code], from_row)
        .optional()?)
}

/// The model with row id `id`, if any.
pub fn find(conn: &Connection, id: ModelId) -> Result<Option<Model>, DbError> {
    Ok(conn
        .query_row(&format!("{SELECT} WHERE m.id = ?1"), [id.0], from_row)
        .optional()?)
}

/// Every model, ordered by code.
pub fn list(conn: &Connection) -> Result<Vec<Model>, DbError> {
    let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY m.code"))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Deletes a model (its devices, their dumps and its firmware rows go with it); `false` when there
/// was none.
pub fn delete(conn: &Connection, id: ModelId) -> Result<bool, DbError> {
    Ok(conn.execute("DELETE FROM device_models WHERE id = ?1", [id.0])? > 0)
}

/// Sets (or clears, with `None`) the model's current firmware version.
pub fn set_firmware_version(
    conn: &Connection,
    id: ModelId,
    version: Option<&str>,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE device_models SET firmware_version = ?2, updated_at = ?3 WHERE id = ?1",
        params![id.0, version, now()],
    )?;
    Ok(())
}

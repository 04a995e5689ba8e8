//! `devices`: one row per physical device, with the SHA-256 of its bearer token.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{DbError, now};
use crate::ids::{DeviceId, ModelId};

/// A device with its model code, as the auth layer and services need it.
#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub id: DeviceId,
    pub key: String,
    pub model_id: ModelId,
    pub model: String,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A device list row: adds the dump count and the time of the newest dump.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceSummary {
    pub id: DeviceId,
    pub key: String,
    pub model: String,
    pub name: String,
    pub coredump_count: i64,
    pub last_coredump_at: Option<String>,
    /// Firmware version reported with the newest dump.
    pub last_firmware_version: Option<String>,
    pub created_at: String,
}

const SELECT: &str =
    "SELECT d.id, d.key, d.device_model_id, m.code, d.name, d.created_at, d.updated_at
     FROM devices d JOIN device_models m ON m.id = d.device_model_id";

fn from_row(r: &Row) -> rusqlite::Result<Device> {
    Ok(Device {
        id: DeviceId(r.get(0)?),
        key: r.get(1)?,
        model_id: ModelId(r.get(2)?),
        model: r.get(3)?,
        name: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

/// Inserts a device; `None` when the key is already taken.
pub fn insert(
    conn: &Connection,
    key: &str,
    model: ModelId,
    name: &str,
    token_hash: &[u8],
) -> Result<Option<Device>, DbError> {
    let ts = now();
    let n = conn.execute(
        "INSERT INTO devices (key, device_model_id, name, token_hash, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(key) DO NOTHING",
        params![key, model.0, name, token_hash, ts],
    )?;
    if n == 0 {
        return Ok(None);
    }
    find(conn, DeviceId(conn.last_insert_rowid()))
}

pub fn find(conn: &Connection, id: DeviceId) -> Result<Option<Device>, DbError> {
    Ok(conn
        .query_row(&format!("{SELECT} WHERE d.id = ?1"), [id.0], from_row)
        .optional()?)
}

pub fn find_by_key(conn: &Connection, key: &str) -> Result<Option<Device>, DbError> {
    Ok(conn
        .query_row(&format!("{SELECT} WHERE d.key = ?1"), [key], from_row)
        .optional()?)
}

/// The device whose token hashes to `hash`, with the stored hash for a constant-time check.
pub fn find_by_token_hash(
    conn: &Connection,
    hash: &[u8],
) -> Result<Option<(Device, Vec<u8>)>, DbError> {
    Ok(conn
        .query_row(
            "SELECT d.id, d.key, d.device_model_id, m.code, d.name, d.created_at, d.updated_at, d.token_hash
             FROM devices d JOIN device_models m ON m.id = d.device_model_id WHERE d.token_hash = ?1",
            [hash],
            |r| Ok((from_row(r)?, r.get(7)?)),
        )
        .optional()?)
}

fn search_pattern(search: Option<&str>) -> String {
    let s = search.unwrap_or("").trim().replace(['%', '_', '\\'], "");
    format!("%{s}%")
}

/// One page of the device list, newest device first; one query, no N+1.
pub fn list(
    conn: &Connection,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<DeviceSummary>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.key, m.code, d.name,
                (SELECT COUNT(*) FROM coredumps c WHERE c.device_id = d.id),
                (SELECT MAX(c.uploaded_at) FROM coredumps c WHERE c.device_id = d.id),
                (SELECT c.firmware_version FROM coredumps c WHERE c.device_id = d.id
                   ORDER BY c.uploaded_at DESC, c.id DESC LIMIT 1),
                d.created_at
         FROM devices d JOIN device_models m ON m.id = d.device_model_id
         WHERE d.key LIKE ?1 OR d.name LIKE ?1
         ORDER BY d.id LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt
        .query_map(params![search_pattern(search), limit, offset], |r| {
            Ok(DeviceSummary {
                id: DeviceId(r.get(0)?),
                key: r.get(1)?,
                model: r.get(2)?,
                name: r.get(3)?,
                coredump_count: r.get(4)?,
                last_coredump_at: r.get(5)?,
                last_firmware_version: r.get(6)?,
                created_at: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn count(conn: &Connection, search: Option<&str>) -> Result<i64, DbError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM devices d WHERE d.key LIKE ?1 OR d.name LIKE ?1",
        [search_pattern(search)],
        |r| r.get(0),
    )?)
}

pub fn set_token_hash(conn: &Connection, id: DeviceId, hash: &[u8]) -> Result<bool, DbError> {
    Ok(conn.execute(
        "UPDATE devices SET token_hash = ?2, updated_at = ?3 WHERE id = ?1",
        params![id.0, hash, now()],
    )? > 0)
}

pub fn delete(conn: &Connection, id: DeviceId) -> Result<bool, DbError> {
    Ok(conn.execute("DELETE FROM devices WHERE id = ?1", [id.0])? > 0)
}

/// Keys of every device (for reconciling the dump folders).
pub fn all_keys(conn: &Connection) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare("SELECT key FROM devices")?;
    let rows = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

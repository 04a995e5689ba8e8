//! `devices`: one row per physical device, with the SHA-256 of its bearer token.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::coredumps::ParseStatus;
use super::{DbError, Page, now};
use crate::ids::{DeviceId, DeviceKey, ModelCode, ModelId, Timestamp};

/// A device with its model code, as the auth layer and services need it.
#[derive(Debug, Clone, Serialize)]
pub struct Device {
    /// The device's row id.
    pub id: DeviceId,
    /// The device's public key (8 characters, base32): its name in URLs and on disk.
    pub key: DeviceKey,
    /// Row id of the device's model.
    pub model_id: ModelId,
    /// Code of the device's model.
    pub model: ModelCode,
    /// Free-text name given by an admin (may be empty).
    pub name: String,
    /// When the device was registered (UTC).
    pub created_at: Timestamp,
    /// When the row last changed, e.g. a token reissue (UTC).
    pub updated_at: Timestamp,
    /// When the device last polled for firmware or uploaded a dump (written at most once a
    /// minute per device unless its version changed); `None`: never seen.
    pub last_seen_at: Option<Timestamp>,
    /// The firmware version it last said it runs.
    pub running_version: Option<String>,
    /// A free label (a canary can select devices by tag).
    pub tag: Option<String>,
    /// The version this device is pinned to (OTA offers it whatever the rollout says).
    pub ota_pin: Option<String>,
    /// Excluded from updates (OTA offers nothing new).
    pub ota_exclude: bool,
}

/// A device list row (API and dashboard): adds the dump count and the newest dump.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceSummary {
    /// The device's row id.
    pub id: DeviceId,
    /// The device's public key.
    pub key: DeviceKey,
    /// Code of the device's model.
    pub model: ModelCode,
    /// Free-text name given by an admin (may be empty).
    pub name: String,
    /// Number of stored dumps.
    pub coredump_count: i64,
    /// When the newest dump was stored; `None` when the device has none.
    pub last_coredump_at: Option<Timestamp>,
    /// Firmware version reported with the newest dump.
    pub last_firmware_version: Option<String>,
    /// Parse status of the newest dump (the dashboard's badge; not in the API).
    #[serde(skip)]
    pub last_status: Option<ParseStatus>,
    /// When the device was registered (UTC).
    pub created_at: Timestamp,
    /// When the device was last seen (OTA poll or dump); `None`: never.
    pub last_seen_at: Option<Timestamp>,
    /// The firmware version it last said it runs.
    pub running_version: Option<String>,
    /// Its tag, if any.
    pub tag: Option<String>,
}

const COLUMNS: &str = "d.id, d.key, d.device_model_id, m.code, d.name, d.created_at, d.updated_at,
     d.last_seen_at, d.running_version, d.tag, d.ota_pin, d.ota_exclude";

const SELECT: &str = "SELECT d.id, d.key, d.device_model_id, m.code, d.name, d.created_at,
     d.updated_at, d.last_seen_at, d.running_version, d.tag, d.ota_pin, d.ota_exclude
     FROM devices d JOIN device_models m ON m.id = d.device_model_id";

fn from_row(r: &Row) -> rusqlite::Result<Device> {
    Ok(Device {
        id: r.get(0)?,
        key: r.get(1)?,
        model_id: r.get(2)?,
        model: r.get(3)?,
        name: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        last_seen_at: r.get(7)?,
        running_version: r.get(8)?,
        tag: r.get(9)?,
        ota_pin: r.get(10)?,
        ota_exclude: r.get(11)?,
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

/// The device with row id `id`, if any.
pub fn find(conn: &Connection, id: DeviceId) -> Result<Option<Device>, DbError> {
    Ok(conn
        .query_row(&format!("{SELECT} WHERE d.id = ?1"), [id.0], from_row)
        .optional()?)
}

/// The device with key `key`, if any.
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
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, d.token_hash
             FROM devices d JOIN device_models m ON m.id = d.device_model_id WHERE d.token_hash = ?1"
        ))?
        .query_row([hash], |r| Ok((from_row(r)?, r.get(12)?)))
        .optional()?)
}

/// `%term%` for `LIKE … ESCAPE '\'`, with the wildcards in `term` escaped.
fn like_pattern(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    out.push('%');
    for c in term.trim().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The search condition on `devices d JOIN device_models m`, with the pattern as `?1`.
const MATCHES: &str = "(?1 = '%%' OR d.key LIKE ?1 ESCAPE '\\' OR d.name LIKE ?1 ESCAPE '\\'
    OR m.code LIKE ?1 ESCAPE '\\')";

/// One page of the device list (the API's and the dashboard's), ordered by key, filtered by a
/// case-insensitive search on key, name and model code (`%` and `_` match themselves). One
/// query: the newest dump of each device is found through `ix_coredumps_device_id`, and the
/// total rides along as `COUNT(*) OVER ()`.
pub fn search(
    conn: &Connection,
    term: &str,
    limit: i64,
    offset: i64,
) -> Result<Page<DeviceSummary>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT d.id, d.key, m.code, d.name,
                (SELECT COUNT(*) FROM coredumps c WHERE c.device_id = d.id),
                l.uploaded_at, l.firmware_version, l.parse_status, d.created_at,
                COUNT(*) OVER (), d.last_seen_at, d.running_version, d.tag
         FROM devices d
         JOIN device_models m ON m.id = d.device_model_id
         LEFT JOIN coredumps l ON l.id = (
             SELECT c.id FROM coredumps c WHERE c.device_id = d.id
             ORDER BY c.uploaded_at DESC, c.id DESC LIMIT 1)
         WHERE {MATCHES}
         ORDER BY d.key LIMIT ?2 OFFSET ?3"
    ))?;
    let mut total = 0;
    let rows = stmt
        .query_map(params![like_pattern(term), limit, offset], |r| {
            total = r.get(9)?;
            Ok(DeviceSummary {
                id: r.get(0)?,
                key: r.get(1)?,
                model: r.get(2)?,
                name: r.get(3)?,
                coredump_count: r.get(4)?,
                last_coredump_at: r.get(5)?,
                last_firmware_version: r.get(6)?,
                last_status: r.get(7)?,
                created_at: r.get(8)?,
                last_seen_at: r.get(10)?,
                running_version: r.get(11)?,
                tag: r.get(12)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    if rows.is_empty() && offset > 0 {
        // Past the last page: the total still counts the matches.
        total = conn.query_row(
            &format!(
                "SELECT COUNT(*) FROM devices d JOIN device_models m ON m.id = d.device_model_id
                 WHERE {MATCHES}"
            ),
            [like_pattern(term)],
            |r| r.get(0),
        )?;
    }
    Ok(Page { rows, total })
}

/// Replaces the device's token hash (the old token stops working); `false` when no such device.
pub fn set_token_hash(conn: &Connection, id: DeviceId, hash: &[u8]) -> Result<bool, DbError> {
    Ok(conn.execute(
        "UPDATE devices SET token_hash = ?2, updated_at = ?3 WHERE id = ?1",
        params![id.0, hash, now()],
    )? > 0)
}

/// Sets (or clears) the device's tag; `false` when no such device.
pub fn set_tag(conn: &Connection, id: DeviceId, tag: Option<&str>) -> Result<bool, DbError> {
    Ok(conn.execute(
        "UPDATE devices SET tag = ?2, updated_at = ?3 WHERE id = ?1",
        params![id.0, tag, now()],
    )? > 0)
}

/// Sets the device's OTA pin and exclusion; `false` when no such device.
pub fn set_ota(
    conn: &Connection,
    id: DeviceId,
    pin: Option<&str>,
    exclude: bool,
) -> Result<bool, DbError> {
    Ok(conn.execute(
        "UPDATE devices SET ota_pin = ?2, ota_exclude = ?3, updated_at = ?4 WHERE id = ?1",
        params![id.0, pin, exclude, now()],
    )? > 0)
}

/// Devices of a model pinned to a version, as (key, version).
pub fn pins_of_model(conn: &Connection, model: ModelId) -> Result<Vec<(String, String)>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT key, ota_pin FROM devices WHERE device_model_id = ?1 AND ota_pin IS NOT NULL
         ORDER BY key",
    )?;
    let rows = stmt
        .query_map([model.0], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Deletes a device (its dump rows go with it); `false` when there was none.
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

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_escapes_wildcards() {
        assert_eq!(like_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
        assert_eq!(like_pattern(" "), "%%");
    }
}

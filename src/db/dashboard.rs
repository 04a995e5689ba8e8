//! The dashboard's own read queries: home-page counts, the paginated device list with search,
//! a device's dumps page by page, and the firmware versions of a model. Each page is one query
//! (totals ride along as a window count), so no page does N+1 round trips.
//!
//! `firmware_versions` belongs to the firmware service and may not exist in this database yet;
//! [`firmware_versions`] reads whichever of its known columns are present and returns `None`
//! when there is no table, so the model page degrades instead of failing.

use rusqlite::{Connection, Row, params};

use super::DbError;
use super::coredumps::{Coredump, ParseStatus};
use crate::ids::{CoredumpId, DeviceId, ModelId};

/// The numbers on the home page.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub devices: i64,
    pub models: i64,
    pub dumps_total: i64,
    pub dumps_24h: i64,
    pub dumps_7d: i64,
    pub pending: i64,
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

/// One row of the devices page.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub id: DeviceId,
    pub key: String,
    pub model: String,
    pub name: String,
    pub dump_count: i64,
    pub last_dump_at: Option<String>,
    /// Firmware version reported with the newest dump.
    pub last_firmware: Option<String>,
    /// Status of the newest dump.
    pub last_status: Option<String>,
}

/// A page of rows and the total number of matching rows.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub total: i64,
}

/// `%term%` for `LIKE … ESCAPE '\'`, with the wildcards in `term` escaped.
fn like_pattern(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    out.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// One page of devices ordered by key, filtered by a case-insensitive search on key, name and
/// model code. One query: the newest dump of each device is found through
/// `ix_coredumps_device_id`, and the total rides along as `COUNT(*) OVER ()`.
pub fn device_page(
    conn: &Connection,
    search: &str,
    limit: i64,
    offset: i64,
) -> Result<Page<DeviceRow>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.key, m.code, d.name,
                (SELECT COUNT(*) FROM coredumps c WHERE c.device_id = d.id),
                l.uploaded_at, l.firmware_version, l.parse_status,
                COUNT(*) OVER ()
         FROM devices d
         JOIN device_models m ON m.id = d.device_model_id
         LEFT JOIN coredumps l ON l.id = (
             SELECT c.id FROM coredumps c WHERE c.device_id = d.id
             ORDER BY c.uploaded_at DESC, c.id DESC LIMIT 1)
         WHERE ?1 = '%%' OR d.key LIKE ?1 ESCAPE '\\' OR d.name LIKE ?1 ESCAPE '\\'
               OR m.code LIKE ?1 ESCAPE '\\'
         ORDER BY d.key LIMIT ?2 OFFSET ?3",
    )?;
    let mut total = 0;
    let rows = stmt
        .query_map(params![like_pattern(search.trim()), limit, offset], |r| {
            total = r.get(8)?;
            Ok(DeviceRow {
                id: DeviceId(r.get(0)?),
                key: r.get(1)?,
                model: r.get(2)?,
                name: r.get(3)?,
                dump_count: r.get(4)?,
                last_dump_at: r.get(5)?,
                last_firmware: r.get(6)?,
                last_status: r.get(7)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    if rows.is_empty() && offset > 0 {
        // Past the last page: the window count saw no rows, so count separately.
        let total = conn.query_row(
            "SELECT COUNT(*) FROM devices d JOIN device_models m ON m.id = d.device_model_id
             WHERE ?1 = '%%' OR d.key LIKE ?1 ESCAPE '\\' OR d.name LIKE ?1 ESCAPE '\\'
                   OR m.code LIKE ?1 ESCAPE '\\'",
            [like_pattern(search.trim())],
            |r| r.get(0),
        )?;
        return Ok(Page { rows, total });
    }
    Ok(Page { rows, total })
}

/// A dump as listed on the device and home pages (no report, no analysis).
#[derive(Debug, Clone)]
pub struct DumpRow {
    pub id: CoredumpId,
    pub device_id: DeviceId,
    pub device_key: String,
    pub chip: String,
    pub firmware_version: String,
    pub size: i64,
    pub status: ParseStatus,
    pub uploaded_at: String,
}

fn dump_row(r: &Row) -> rusqlite::Result<DumpRow> {
    Ok(DumpRow {
        id: CoredumpId(r.get(0)?),
        device_id: DeviceId(r.get(1)?),
        device_key: r.get(2)?,
        chip: r.get(3)?,
        firmware_version: r.get(4)?,
        size: r.get(5)?,
        status: match r.get::<_, String>(6)?.as_str() {
            "PARSED" => ParseStatus::Parsed,
            "ERROR" => ParseStatus::Error,
            _ => ParseStatus::Pending,
        },
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
) -> Result<Option<(Coredump, String)>, DbError> {
    let Some(dump) = super::coredumps::find(conn, device, id)? else {
        return Ok(None);
    };
    let key = super::devices::find(conn, device)?.map(|d| d.key);
    Ok(key.map(|k| (dump, k)))
}

/// One stored firmware version of a model, as far as this database records it.
#[derive(Debug, Clone)]
pub struct FirmwareRow {
    pub version: String,
    pub size: Option<i64>,
    pub has_elf: Option<bool>,
    pub uploaded_at: Option<String>,
}

/// A model's firmware versions, newest first; `None` when this database has no
/// `firmware_versions` table (the firmware service is not part of this build).
pub fn firmware_versions(
    conn: &Connection,
    model: ModelId,
) -> Result<Option<Vec<FirmwareRow>>, DbError> {
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('firmware_versions')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if !columns.iter().any(|c| c == "version") || !columns.iter().any(|c| c == "device_model_id") {
        return Ok(None);
    }
    // Only names from this fixed list are spliced into the SQL.
    let pick = |name: &'static str| {
        if columns.iter().any(|c| c == name) {
            name
        } else {
            "NULL"
        }
    };
    let uploaded = pick("uploaded_at");
    let order = if uploaded == "NULL" { "id" } else { uploaded };
    let sql = format!(
        "SELECT version, {}, {}, {uploaded} FROM firmware_versions
         WHERE device_model_id = ?1 ORDER BY {order} DESC, id DESC",
        pick("size"),
        pick("has_elf"),
    );
    let rows = conn
        .prepare(&sql)?
        .query_map([model.0], |r| {
            Ok(FirmwareRow {
                version: r.get(0)?,
                size: r.get(1)?,
                has_elf: r.get(2)?,
                uploaded_at: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(rows))
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_escapes_wildcards() {
        assert_eq!(like_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
        assert_eq!(like_pattern(""), "%%");
    }
}

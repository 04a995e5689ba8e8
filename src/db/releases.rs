//! Release health reads: per model and firmware version, devices on it now, devices seen and
//! devices with a dump in a window (from `device_versions`), dumps (lifetime and in a window),
//! groups first seen in it, and the per-day totals of `release_days`. Each figure is one
//! indexed query per model (or per version), whatever the fleet size.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::DbError;
use crate::ids::ModelId;

/// The raw figures of one version (see `crate::releases` for the derived ones).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// When the version was uploaded (`None`: never uploaded, only reported by devices).
    pub uploaded_at: Option<String>,
    /// Devices whose running version it is now.
    pub devices: i64,
    /// Devices seen on it since the window start.
    pub devices_seen: i64,
    /// Of those, devices that sent a dump from it since the window start.
    pub devices_crashed: i64,
    /// Dumps from it (lifetime).
    pub dumps: i64,
    /// Dumps from it since the window's first day.
    pub dumps_window: i64,
    /// Crash groups whose first version it is.
    pub new_groups: i64,
}

fn grouped<T: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<(String, T)>, DbError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(p, |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The figures of every version of `model` that was uploaded or reported (by a check-in or a
/// dump), or only of `only`. `since` is the window start (stored time form), `since_day` its
/// day.
pub fn figures(
    conn: &Connection,
    model: ModelId,
    only: Option<&str>,
    since: &str,
    since_day: &str,
) -> Result<HashMap<String, Figures>, DbError> {
    let only_sql = |col: &str| match only {
        Some(_) => format!(" AND {col} = ?3"),
        None => " AND ?3 IS NULL".to_string(),
    };
    let mut out: HashMap<String, Figures> = HashMap::new();
    for (v, at) in grouped::<String>(
        conn,
        &format!(
            "SELECT version, uploaded_at FROM firmware_versions WHERE device_model_id = ?1{}",
            only_sql("version")
        ),
        params![model, since, only],
    )? {
        out.entry(v).or_default().uploaded_at = Some(at);
    }
    for (v, n) in grouped::<i64>(
        conn,
        &format!(
            "SELECT running_version, COUNT(*) FROM devices
             WHERE device_model_id = ?1 AND running_version IS NOT NULL{} GROUP BY running_version",
            only_sql("running_version")
        ),
        params![model, since, only],
    )? {
        out.entry(v).or_default().devices = n;
    }
    {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT version, COUNT(*), COUNT(CASE WHEN last_dump_at >= ?2 THEN 1 END)
             FROM device_versions WHERE device_model_id = ?1{} AND last_seen_at >= ?2
             GROUP BY version",
            only_sql("version")
        ))?;
        let rows = stmt
            .query_map(params![model, since, only], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        for (v, seen, crashed) in rows {
            let f = out.entry(v).or_default();
            f.devices_seen = seen;
            f.devices_crashed = crashed;
        }
    }
    for (v, n) in grouped::<i64>(
        conn,
        &format!(
            "SELECT version, SUM(dumps) FROM release_days
             WHERE device_model_id = ?1{} AND day >= ?2 GROUP BY version",
            only_sql("version")
        ),
        params![model, since_day, only],
    )? {
        out.entry(v).or_default().dumps_window = n;
    }
    for (v, n) in grouped::<i64>(
        conn,
        &format!(
            "SELECT version, dumps FROM release_dumps WHERE device_model_id = ?1{}",
            only_sql("version")
        ),
        params![model, since, only],
    )? {
        out.entry(v).or_default().dumps = n;
    }
    for (v, n) in grouped::<i64>(
        conn,
        &format!(
            "SELECT first_version, COUNT(*) FROM crash_groups
             WHERE device_model_id = ?1{} GROUP BY first_version",
            only_sql("first_version")
        ),
        params![model, since, only],
    )? {
        out.entry(v).or_default().new_groups = n;
    }
    Ok(out)
}

/// Per-day totals of one version from `since_day` on: (day, devices seen, dumps), oldest first.
pub fn days(
    conn: &Connection,
    model: ModelId,
    version: &str,
    since_day: &str,
) -> Result<Vec<(String, i64, i64)>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, devices, dumps FROM release_days
         WHERE device_model_id = ?1 AND version = ?2 AND day >= ?3 ORDER BY day",
    )?;
    let rows = stmt
        .query_map(params![model, version, since_day], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A crash group first seen in a version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewGroup {
    /// The group's id.
    pub id: i64,
    /// Its title.
    pub title: String,
    /// Open, resolved or muted.
    pub status: String,
    /// Its dumps (lifetime, all versions).
    pub count: i64,
    /// When it was first seen.
    pub first_seen: String,
}

/// Groups of `model` whose first version is `version`, newest first (at most `limit`).
pub fn new_groups(
    conn: &Connection,
    model: ModelId,
    version: &str,
    limit: i64,
) -> Result<Vec<NewGroup>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, title, status, count, first_seen FROM crash_groups
         WHERE device_model_id = ?1 AND first_version = ?2 ORDER BY first_seen DESC LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![model, version, limit], |r| {
            Ok(NewGroup {
                id: r.get(0)?,
                title: r.get(1)?,
                status: r.get(2)?,
                count: r.get(3)?,
                first_seen: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

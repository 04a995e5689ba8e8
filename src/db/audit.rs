//! `audit_log`: who changed what and when. Rows are only ever appended; the rules of who the
//! actor is are in `crate::audit`.

use rusqlite::{Connection, params};
use serde::Serialize;
use serde_json::Value;

use super::{DbError, now};

/// One recorded action.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Row id.
    pub id: i64,
    /// When it happened (UTC).
    pub at: String,
    /// Who did it: a user name, `token:<name>`, `cli`, or `crashbox` (automatic).
    pub actor: String,
    /// What was done, e.g. `rollout.promote`.
    pub action: String,
    /// What it was done to, e.g. `model:tempsensor` or `device:k3xq7mza`.
    pub target: String,
    /// The particulars (a JSON object).
    pub detail: Value,
}

/// Appends an entry; its id.
pub fn insert(
    tx: &Connection,
    actor: &str,
    action: &str,
    target: &str,
    detail: &Value,
) -> Result<i64, DbError> {
    tx.prepare_cached(
        "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![now(), actor, action, target, detail.to_string()])?;
    Ok(tx.last_insert_rowid())
}

/// An entry from `SELECT id, at, actor, action, target, detail` (a detail that is not JSON
/// reads as `null`).
fn entry_row(r: &rusqlite::Row) -> rusqlite::Result<Entry> {
    let detail: String = r.get(5)?;
    Ok(Entry {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
    })
}

/// The newest `limit` entries whose target is one of `targets` (all targets when empty),
/// newest first.
pub fn list(conn: &Connection, targets: &[String], limit: i64) -> Result<Vec<Entry>, DbError> {
    let wanted = serde_json::to_string(targets).unwrap_or_else(|_| "[]".into());
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, action, target, detail FROM audit_log
         WHERE json_array_length(?1) = 0 OR target IN (SELECT value FROM json_each(?1))
         ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![wanted, limit], entry_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The newest `limit` entries about a model or any device of it (targets `model:<code>` and
/// `device:<key>` of its devices), newest first.
pub fn list_for_model(conn: &Connection, code: &str, limit: i64) -> Result<Vec<Entry>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, action, target, detail FROM audit_log
         WHERE target = 'model:' || ?1
            OR json_extract(detail, '$.model') = ?1
         ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![code, limit], entry_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

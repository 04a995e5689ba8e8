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

/// Which entries to list: every given field narrows the list; entries come newest first.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Entries about this model or any of its devices (`model:<code>`, or a detail naming it).
    pub model: Option<String>,
    /// Only this actor (`admin`, `token:ci`, `cli`, `crashbox`).
    pub actor: Option<String>,
    /// Only actions equal to this, or starting with it when it ends in `.` (`group.`).
    pub action: Option<String>,
    /// Only this target (`device:k3xq7mza`).
    pub target: Option<String>,
    /// Only the rollout changes: `rollout.*`, `device.ota`, `device.tag` (the model page).
    pub rollout_only: bool,
    /// Only entries older than this id (the next page).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

/// The entries `f` selects, newest first.
pub fn list(conn: &Connection, f: &Filter) -> Result<Vec<Entry>, DbError> {
    let action_prefix = f.action.as_deref().filter(|a| a.ends_with('.')).map(|a| {
        let escaped = a
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("{escaped}%")
    });
    let action_exact = f.action.as_deref().filter(|a| !a.ends_with('.'));
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, action, target, detail FROM audit_log
         WHERE (?1 IS NULL OR target = 'model:' || ?1 OR json_extract(detail, '$.model') = ?1)
           AND (?2 IS NULL OR actor = ?2)
           AND (?3 IS NULL OR action = ?3)
           AND (?4 IS NULL OR action LIKE ?4 ESCAPE '\\')
           AND (?5 IS NULL OR target = ?5)
           AND (?6 = 0 OR action LIKE 'rollout.%' OR action IN ('device.ota', 'device.tag'))
           AND (?7 IS NULL OR id < ?7)
         ORDER BY id DESC LIMIT ?8",
    )?;
    let rows = stmt
        .query_map(
            params![
                f.model,
                f.actor,
                action_exact,
                action_prefix,
                f.target,
                f.rollout_only,
                f.before,
                f.limit
            ],
            entry_row,
        )?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Deletes the entries recorded before `ts` (RFC 3339 UTC); how many.
pub fn prune_before(tx: &Connection, ts: &str) -> Result<usize, DbError> {
    Ok(tx.execute("DELETE FROM audit_log WHERE at < ?1", params![ts])?)
}

//! The audit log: every admin change recorded with who did it and when, in the transaction of
//! the change itself (a change without its entry is never committed, and the other way round).
//!
//! [`record`] is the one way in; [`Actor`] names who acted (a dashboard user, an API token, the
//! command line, or crashbox itself for automatic actions such as a rollout halt). Targets are
//! `<kind>:<name>` strings (`model:tempsensor`, `device:k3xq7mza`) and the detail a JSON object;
//! an entry about a device of a model carries `"model": "<code>"` in its detail so the model page
//! can show it.
//!
//! Recorded: device create / delete / token rotation, dump deletes, model create / delete,
//! firmware uploads (dashboard, pipeline, CLI) and deletes, API token create / revoke, password
//! changes, crash group resolve / mute / reopen / merge, notification channel create / update /
//! delete / test, and every rollout and OTA change. Never a secret: token values, webhook
//! secrets, channel URLs and passwords stay out of the detail. Entries older than
//! `CRASHBOX_AUDIT_RETENTION_DAYS` are pruned every hour ([`prune`]).

use rusqlite::Connection;
use serde_json::Value;

use crate::db::audit::{self, Entry};
use crate::db::{Db, DbError, format_ts};

pub use crate::db::audit::Filter;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in dashboard user (or an admin session calling the API).
    User(String),
    /// An API token, by its name.
    Token(String),
    /// The command line on the server.
    Cli,
    /// crashbox itself (an automatic action).
    System,
}

impl Actor {
    /// The stored spelling: the user name, `token:<name>`, `cli` or `crashbox`.
    pub fn name(&self) -> String {
        match self {
            Actor::User(u) => u.clone(),
            Actor::Token(t) => format!("token:{t}"),
            Actor::Cli => "cli".into(),
            Actor::System => "crashbox".into(),
        }
    }
}

/// Records `action` on `target` by `actor` with `detail`, inside the caller's transaction.
pub fn record(
    tx: &Connection,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: Value,
) -> Result<i64, DbError> {
    audit::insert(tx, &actor.name(), action, target, &detail)
}

/// The filter of the given fields: each trimmed, an empty one ignored; `limit` clamped to
/// `1..=max_limit`. (The API's query and the dashboard's form both come through here.)
pub fn filter(
    fields: [Option<&str>; 4],
    before: Option<i64>,
    limit: i64,
    max_limit: i64,
) -> Filter {
    let [model, actor, action, target] = fields.map(|v| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    });
    Filter {
        model,
        actor,
        action,
        target,
        rollout_only: false,
        before,
        limit: limit.clamp(1, max_limit),
    }
}

/// The entries `filter` selects, newest first.
pub fn list(conn: &Connection, filter: &Filter) -> Result<Vec<Entry>, DbError> {
    audit::list(conn, filter)
}

/// Deletes the entries older than `days` days (`0`: keeps everything); how many.
pub fn prune(db: &Db, days: u32) -> Result<usize, DbError> {
    if days == 0 {
        return Ok(0);
    }
    let before = format_ts(chrono::Utc::now() - chrono::Duration::days(i64::from(days)));
    db.write(|tx| audit::prune_before(tx, &before))
}

#[cfg(test)]
mod tests {
    use super::Actor;

    #[test]
    fn actor_names() {
        assert_eq!(Actor::User("ann".into()).name(), "ann");
        assert_eq!(Actor::Token("ci".into()).name(), "token:ci");
        assert_eq!(Actor::Cli.name(), "cli");
        assert_eq!(Actor::System.name(), "crashbox");
    }
}

//! `GET /api/audit`: the audit log, newest first, filtered and paged (see [`AuditQuery`]).

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::Filter;
use crate::web::auth::AdminAuth;
use crate::web::error::ApiResult;
use crate::web::state::AppState;

/// Most entries one request returns.
pub const MAX_ENTRIES: i64 = 1000;

/// Query of the audit log: every given field narrows it.
#[derive(Deserialize, Default)]
pub struct AuditQuery {
    /// Entries about this model or any of its devices.
    pub model: Option<String>,
    /// Only this actor (`admin`, `token:ci`, `cli`, `crashbox`).
    pub actor: Option<String>,
    /// Only this action (`group.resolve`), or a family of them when it ends in `.` (`group.`).
    pub action: Option<String>,
    /// Only this target (`device:k3xq7mza`, `model:tempsensor`, `group:12`).
    pub target: Option<String>,
    /// Only entries older than this id (the `next_before` of the previous page).
    pub before: Option<i64>,
    /// Entries per page (default 100, 1–1000).
    pub limit: Option<i64>,
}

impl AuditQuery {
    /// The database filter, with empty fields ignored and `limit` clamped to `1..=max`.
    pub fn filter(&self, default_limit: i64, max: i64) -> Filter {
        crate::audit::filter(
            [
                self.model.as_deref(),
                self.actor.as_deref(),
                self.action.as_deref(),
                self.target.as_deref(),
            ],
            self.before,
            self.limit.unwrap_or(default_limit),
            max,
        )
    }
}

/// `GET /api/audit` → `{"entries": [{"id","at","actor","action","target","detail"}],
/// "next_before": <id of the last entry when the page is full, else null>}`.
pub async fn list(
    State(st): State<AppState>,
    _: AdminAuth,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let filter = q.filter(100, MAX_ENTRIES);
    let limit = filter.limit;
    let entries = st
        .blocking(move |st| Ok(crate::audit::list(&*st.db.conn()?, &filter)?))
        .await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(
        json!({"entries": entries, "next_before": next_before}),
    ))
}

//! `GET /api/audit[?model=<code>][&limit=N]`: the audit log, newest first (default 100, at
//! most 1,000); with `model`, the entries about that model and its devices.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::web::auth::AdminAuth;
use crate::web::error::ApiResult;
use crate::web::state::AppState;

/// Most entries one request returns.
pub const MAX_ENTRIES: i64 = 1000;

/// Query of the audit log.
#[derive(Deserialize)]
pub struct AuditQuery {
    model: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/audit` → `{"entries": [{"id","at","actor","action","target","detail"}]}`.
pub async fn list(
    State(st): State<AppState>,
    _: AdminAuth,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_ENTRIES);
    let entries = st
        .blocking(move |st| {
            let conn = st.db.conn()?;
            Ok(match q.model.as_deref() {
                Some(m) => crate::audit::for_model(&conn, m, limit)?,
                None => crate::db::audit::list(&conn, &[], limit)?,
            })
        })
        .await?;
    Ok(Json(json!({"entries": entries})))
}

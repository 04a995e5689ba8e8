//! Admin crash-group endpoints: `/api/groups`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::db::groups::{GroupStatus, Sort};
use crate::groups::service;
use crate::ids::GroupId;
use crate::web::auth::AdminAuth;
use crate::web::error::{ApiError, ApiResult};
use crate::web::extract::path_id;
use crate::web::state::AppState;

/// Query of `GET /api/groups`.
#[derive(Deserialize)]
pub struct ListQuery {
    model: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn group_id(segment: &str) -> Result<GroupId, ApiError> {
    Ok(GroupId(path_id(segment, "CrashGroup")?))
}

/// `GET /api/groups?model=&status=open|resolved|muted&sort=last_seen|count|devices`:
/// `{"groups":[…],"count":N}`, open groups first (regressions first among them).
pub async fn list(
    State(st): State<AppState>,
    _: AdminAuth,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(GroupStatus::parse(s).ok_or_else(|| {
            ApiError::validation(format!("Unknown status {s:?}: use open, resolved or muted"))
        })?),
    };
    let sort = match q.sort.as_deref().filter(|s| !s.is_empty()) {
        None => Sort::default(),
        Some(s) => Sort::parse(s).ok_or_else(|| {
            ApiError::validation(format!(
                "Unknown sort {s:?}: use last_seen, count or devices"
            ))
        })?,
    };
    let model = q.model.filter(|m| !m.is_empty());
    let (limit, offset) = (q.limit.unwrap_or(service::MAX_LIST), q.offset.unwrap_or(0));
    let page = st
        .blocking(move |st| service::list(&st.db, model.as_deref(), status, sort, limit, offset))
        .await?;
    Ok(Json(json!({"groups": page.rows, "count": page.total})))
}

/// `GET /api/groups/{id}`: the group with `versions`, `devices`, `stored_dumps` and
/// `latest_coredump_id`.
pub async fn detail(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = group_id(&id)?;
    let d = st.blocking(move |st| service::detail(&st.db, id)).await?;
    Ok(Json(d.to_json()))
}

/// Optional body of `POST /api/groups/{id}/resolve`.
#[derive(Deserialize, Default)]
struct ResolveBody {
    version: Option<String>,
}

/// `POST /api/groups/{id}/resolve` with optional `{"version":"1.4.1"}` (default: the model's
/// current firmware version): the group.
pub async fn resolve(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let actor = auth.actor();
    let id = group_id(&id)?;
    let body: ResolveBody = if body.iter().all(u8::is_ascii_whitespace) {
        ResolveBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::validation(format!("Invalid JSON body: {e}")))?
    };
    let g = st
        .blocking(move |st| service::resolve(&st.db, id, body.version.as_deref(), &actor))
        .await?;
    Ok(Json(json!(g)))
}

/// `POST /api/groups/{id}/mute`: the group.
pub async fn mute(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let actor = auth.actor();
    let id = group_id(&id)?;
    let g = st
        .blocking(move |st| service::mute(&st.db, id, &actor))
        .await?;
    Ok(Json(json!(g)))
}

/// `POST /api/groups/{id}/reopen`: the group.
pub async fn reopen(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let actor = auth.actor();
    let id = group_id(&id)?;
    let g = st
        .blocking(move |st| service::reopen(&st.db, id, &actor))
        .await?;
    Ok(Json(json!(g)))
}

/// Body of `POST /api/groups/{id}/merge`.
#[derive(Deserialize)]
pub struct MergeBody {
    into: i64,
}

/// `POST /api/groups/{id}/merge` with `{"into":ID}`: merges this group into `into`; the
/// merged group.
pub async fn merge(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
    crate::web::extract::ApiJson(body): crate::web::extract::ApiJson<MergeBody>,
) -> ApiResult<Json<Value>> {
    let actor = auth.actor();
    let from = group_id(&id)?;
    let into = GroupId(body.into);
    let g = st
        .blocking(move |st| service::merge(&st.db, from, into, &actor))
        .await?;
    Ok(Json(json!(g)))
}

//! Admin device endpoints: `/api/devices`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::db::{coredumps, devices};
use crate::fleet;
use crate::ids::DeviceId;
use crate::web::auth::AdminAuth;
use crate::web::error::ApiResult;
use crate::web::extract::{ApiJson, path_id};
use crate::web::state::AppState;

/// Query of the device list: `search` (key, name or model code), `limit` (default 1000, 1–10,000),
/// `offset`.
#[derive(Deserialize)]
pub struct ListQuery {
    search: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /api/devices`: one page of devices as `{"devices", "count"}` (`count` counts all matches).
pub async fn list(
    State(st): State<AppState>,
    _: AdminAuth,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let offset = q.offset.unwrap_or(0).max(0);
    let page = st
        .blocking(move |st| {
            let term = q.search.as_deref().unwrap_or("");
            Ok(devices::search(&*st.db.conn()?, term, limit, offset)?)
        })
        .await?;
    Ok(Json(json!({"devices": page.rows, "count": page.total})))
}

/// Body of `POST /api/devices`: the model code and an optional name.
#[derive(Deserialize)]
pub struct NewDevice {
    model: String,
    name: Option<String>,
}

/// `POST /api/devices`: registers a device; 201 with its token, shown only this once.
pub async fn create(
    State(st): State<AppState>,
    auth: AdminAuth,
    ApiJson(body): ApiJson<NewDevice>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = auth.actor();
    let created = st
        .blocking(move |st| {
            fleet::devices::create(&st.db, &body.model, body.name.as_deref(), &actor)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!(created))))
}

/// `GET /api/devices/{id}`: the device (with `last_seen_at`, `running_version`, `tag`,
/// `ota_pin`, `ota_exclude`), its `coredump_count` and `version_history` (the versions it was
/// seen on, newest first).
pub async fn detail(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = DeviceId(path_id(&id, "Device")?);
    let (device, count, history) = st
        .blocking(move |st| {
            let device = fleet::devices::find(&st.db, id)?;
            let conn = st.db.conn()?;
            Ok((
                device,
                coredumps::count_for_device(&conn, id)?,
                crate::db::checkins::history(&conn, id)?,
            ))
        })
        .await?;
    let mut v = json!(device);
    if let Some(o) = v.as_object_mut() {
        o.insert("coredump_count".into(), json!(count));
        o.insert("version_history".into(), json!(history));
    }
    Ok(Json(v))
}

/// `DELETE /api/devices/{id}`: deletes the device, its token and its dumps; 204.
pub async fn delete(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = auth.actor();
    let id = DeviceId(path_id(&id, "Device")?);
    st.blocking(move |st| fleet::devices::delete(&st.db, &st.layout, id, &actor))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/devices/{id}/token`: rotate the device token (the new one is shown once).
pub async fn rotate_token(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let actor = auth.actor();
    let id = DeviceId(path_id(&id, "Device")?);
    let rotated = st
        .blocking(move |st| fleet::devices::rotate_token(&st.db, id, &actor))
        .await?;
    Ok(Json(json!(rotated)))
}

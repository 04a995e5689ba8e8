//! Admin rollout endpoints: a model's rollout (`/api/models/{code}/rollout`, promote, resume)
//! and a device's OTA pin / exclusion and tag (`/api/devices/{id}/ota`, `/api/devices/{id}`).
//! Every change is recorded in the audit log with the caller (user name or token name).

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ids::DeviceId;
use crate::rollout::service::{self, OtaInput, Rollout, RolloutInput};
use crate::web::auth::AdminAuth;
use crate::web::error::ApiResult;
use crate::web::extract::{ApiJson, path_id};
use crate::web::state::AppState;

/// `GET /api/models/{code}/rollout`.
pub async fn get(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(code): Path<String>,
) -> ApiResult<Json<Rollout>> {
    Ok(Json(
        st.blocking(move |st| service::get(&st.db, &code)).await?,
    ))
}

/// `PUT /api/models/{code}/rollout` `{"target"?, "canary"?: {"version", "devices", "tag"}}`.
pub async fn put(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<RolloutInput>,
) -> ApiResult<Json<Rollout>> {
    let actor = auth.actor();
    Ok(Json(
        st.blocking(move |st| service::set(&st.db, &code, &body, &actor))
            .await?,
    ))
}

/// `POST /api/models/{code}/rollout/promote`: the canary version becomes the target.
pub async fn promote(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(code): Path<String>,
) -> ApiResult<Json<Rollout>> {
    let actor = auth.actor();
    Ok(Json(
        st.blocking(move |st| service::promote(&st.db, &code, &actor))
            .await?,
    ))
}

/// `POST /api/models/{code}/rollout/resume`: a halted canary runs again.
pub async fn resume(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(code): Path<String>,
) -> ApiResult<Json<Rollout>> {
    let actor = auth.actor();
    Ok(Json(
        st.blocking(move |st| service::resume(&st.db, &code, &actor))
            .await?,
    ))
}

/// `PUT /api/devices/{id}/ota` `{"pin": "1.2.3"}` | `{"exclude": true}` | `{}`.
pub async fn device_ota(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OtaInput>,
) -> ApiResult<Json<service::DeviceOta>> {
    let id = DeviceId(path_id(&id, "Device")?);
    let actor = auth.actor();
    Ok(Json(
        st.blocking(move |st| service::set_ota(&st.db, id, &body, &actor))
            .await?,
    ))
}

/// Body of `PATCH /api/devices/{id}`: the device's tag (`null` or `""` clears it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicePatch {
    tag: Option<String>,
}

/// `PATCH /api/devices/{id}` `{"tag": "lab" | null}` → `{"id", "tag"}`.
pub async fn device_patch(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DevicePatch>,
) -> ApiResult<Json<Value>> {
    let id = DeviceId(path_id(&id, "Device")?);
    let actor = auth.actor();
    let tag = st
        .blocking(move |st| service::set_tag(&st.db, id, body.tag.as_deref(), &actor))
        .await?;
    Ok(Json(json!({"id": id, "tag": tag})))
}

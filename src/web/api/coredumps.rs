//! Admin coredump endpoints under `/api/devices/{id}/coredumps`: list, detail, download, delete.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::coredump::manage;
use crate::db::coredumps::{self, Coredump};
use crate::db::devices;
use crate::error::Error;
use crate::ids::{CoredumpId, DeviceId};
use crate::web::auth::AdminAuth;
use crate::web::error::ApiResult;
use crate::web::extract::path_id;
use crate::web::state::AppState;

/// The list item shape: no `parsed_output`; `group_id` is null until the dump is grouped.
pub fn summary_json(c: &Coredump) -> Value {
    json!({
        "id": c.id, "device_id": c.device_id, "filename": c.filename, "chip": c.chip,
        "firmware_version": c.firmware_version, "size": c.size, "parse_status": c.parse_status,
        "uploaded_at": c.uploaded_at, "parsed_at": c.parsed_at, "created_at": c.created_at,
        "group_id": c.group_id,
    })
}

/// The detail shape: the summary plus the output, `updated_at` and the structured analysis.
pub fn detail_json(c: &Coredump) -> Value {
    let mut v = summary_json(c);
    let analysis = c
        .analysis
        .as_deref()
        .and_then(|a| serde_json::from_str::<Value>(a).ok());
    if let Some(o) = v.as_object_mut() {
        o.insert("parsed_output".into(), json!(c.parsed_output));
        o.insert("updated_at".into(), json!(c.updated_at));
        o.insert("analysis".into(), analysis.unwrap_or(Value::Null));
    }
    v
}

fn ids(device: &str, coredump: &str) -> ApiResult<(DeviceId, CoredumpId)> {
    Ok((
        DeviceId(path_id(device, "Device")?),
        CoredumpId(path_id(coredump, "Coredump")?),
    ))
}

/// `GET /api/devices/{id}/coredumps`: the device's dumps, newest first, as `{"count", "coredumps"}`
/// summaries.
pub async fn list(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(device): Path<String>,
) -> ApiResult<Json<Value>> {
    let device = DeviceId(path_id(&device, "Device")?);
    let dumps = st
        .blocking(move |st| {
            let conn = st.db.conn()?;
            devices::find(&conn, device)?.ok_or_else(|| Error::not_found("Device", device))?;
            Ok(coredumps::list_for_device(&conn, device)?)
        })
        .await?;
    let items: Vec<Value> = dumps.iter().map(summary_json).collect();
    Ok(Json(json!({"count": items.len(), "coredumps": items})))
}

async fn find(st: &AppState, device: DeviceId, id: CoredumpId) -> ApiResult<Coredump> {
    Ok(st
        .blocking(move |st| {
            coredumps::find(&*st.db.conn()?, device, id)?
                .ok_or_else(|| Error::not_found("Coredump", id))
        })
        .await?)
}

/// `GET /api/devices/{id}/coredumps/{cid}`: one dump with its report and analysis.
pub async fn detail(
    State(st): State<AppState>,
    _: AdminAuth,
    Path((device, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (device, id) = ids(&device, &id)?;
    Ok(Json(detail_json(&find(&st, device, id).await?)))
}

/// `GET /api/devices/{id}/coredumps/{cid}/download`: the raw dump file as an attachment.
pub async fn download(
    State(st): State<AppState>,
    _: AdminAuth,
    Path((device, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (device_id, id) = ids(&device, &id)?;
    let dump = find(&st, device_id, id).await?;
    let filename = dump.filename.clone();
    let bytes = st
        .blocking(move |st| {
            let device = devices::find(&*st.db.conn()?, device_id)?
                .ok_or_else(|| Error::not_found("Device", device_id))?;
            let missing =
                || Error::NotFound(format!("Coredump file {} was not found", dump.filename));
            let path = st
                .layout
                .coredump_path(&device.key, &dump.filename)
                .ok_or_else(missing)?;
            crate::store::spares::read_named(&path).map_err(|_| missing())
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}

/// `DELETE /api/devices/{id}/coredumps/{cid}`: deletes one dump and its file; 204.
pub async fn delete_one(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path((device, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let actor = auth.actor();
    let (device, id) = ids(&device, &id)?;
    st.blocking(move |st| manage::delete_one(&st.db, &st.layout, device, id, &actor))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/devices/{id}/coredumps`: deletes every dump of the device; 204.
pub async fn delete_all(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(device): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = auth.actor();
    let device = DeviceId(path_id(&device, "Device")?);
    st.blocking(move |st| manage::delete_all(&st.db, &st.layout, &st.spares, device, &actor))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

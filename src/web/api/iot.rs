//! Device endpoints (`/api/iot/*`): the core dump upload.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::coredump::{MAX_COREDUMP_SIZE, ingest};
use crate::ids::check_device_field;
use crate::metrics::Metrics;
use crate::web::auth::DeviceAuth;
use crate::web::error::{ApiError, ApiResult, store_outcome};
use crate::web::extract;
use crate::web::state::AppState;

/// `POST /api/iot/coredump?chip=C&firmware_version=V`: the original system's device upload,
/// hardened: the size is enforced from `Content-Length` before reading and while streaming.
pub async fn upload_coredump(
    State(st): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let result = upload(&st, device, query, &headers, body).await;
    Metrics::count(&st.metrics.uploads, store_outcome(&result));
    result
}

async fn upload(
    st: &AppState,
    device: crate::db::devices::Device,
    query: Option<String>,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let q = extract::parse_query(query.as_deref());
    let field = |name: &str| -> ApiResult<String> {
        let v = q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let v = v.ok_or_else(|| {
            ApiError::validation(format!("Missing required query parameter: {name}"))
        })?;
        check_device_field(name, v).map_err(ApiError::validation)?;
        Ok(v.to_string())
    };
    let chip = field("chip")?;
    let firmware_version = field("firmware_version")?;
    if extract::content_length(headers).is_some_and(|n| n > MAX_COREDUMP_SIZE as u64) {
        return Err(ApiError::validation("Coredump exceeds maximum size of 1MB"));
    }
    let bytes = extract::read_capped(body, MAX_COREDUMP_SIZE)
        .await
        .map_err(|e| e.into_api(|| ApiError::validation("Coredump exceeds maximum size of 1MB")))?;
    let (device_id, model_id, seen_version) =
        (device.id, device.model_id, firmware_version.clone());
    let stored = st
        .blocking(move |st| {
            let upload = ingest::Upload {
                device: &device,
                chip: &chip,
                firmware_version: &firmware_version,
                body: &bytes,
            };
            ingest::ingest(
                &st.db,
                &st.layout,
                &st.spares,
                st.config.max_coredumps,
                upload,
            )
        })
        .await?;
    // The row is committed: only now may a worker see the job.
    st.jobs.enqueue(stored.id);
    // The dump's version counts as "seen running it".
    st.checkins.seen(device_id, model_id, Some(&seen_version));
    Ok((
        StatusCode::CREATED,
        Json(json!({"status": "ok", "coredump_id": stored.id, "filename": stored.filename})),
    ))
}

//! Firmware endpoints for devices (`GET /api/iot/firmware`, `GET /api/iot/firmware-version`)
//! and admins (`/api/models/{code}/firmware...`); the CI side lives in [`super::pipeline`].
//! Files are streamed from disk (`tokio::fs` + `ReaderStream`), with ETag/304 and single-range
//! 206/416 decided by [`crate::firmware::download`].

use std::io::SeekFrom;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::db::models;
use crate::error::Error;
use crate::firmware::download::{self, Plan};
use crate::firmware::service::{self, OpenFile};
use crate::metrics::Metrics;
use crate::web::auth::{AdminAuth, DeviceAuth};
use crate::web::error::ApiResult;
use crate::web::state::AppState;

/// Read size of the streamed body: large enough that one blocking read per chunk is cheap.
const CHUNK: usize = 256 << 10;

/// Every firmware route (device, admin and pipeline), for the route table.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/iot/firmware", get(device_download))
        .route("/api/iot/firmware-version", get(device_version))
        .route("/api/models/{code}/firmware", get(list))
        .route(
            "/api/models/{code}/firmware/{version}",
            get(download).delete(delete),
        )
        .merge(super::pipeline::routes())
}

/// `GET /api/iot/firmware`: the current app image of the device's model.
pub async fn device_download(
    State(st): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let code = device.model.clone();
    let image = st
        .blocking(move |st| service::current_image(&st.db, &st.layout, &code))
        .await;
    let resp = match image {
        Ok(image) => send_file(image, &headers, "attachment").await,
        Err(e) => Err(e.into()),
    };
    let outcome = match &resp {
        Ok(r) if r.status() == StatusCode::OK => "full",
        Ok(r) if r.status() == StatusCode::PARTIAL_CONTENT => "partial",
        Ok(r) if r.status() == StatusCode::NOT_MODIFIED => "not_modified",
        Ok(r) if r.status() == StatusCode::RANGE_NOT_SATISFIABLE => "unsatisfiable",
        Ok(_) => "other",
        Err(e) if e.status == StatusCode::NOT_FOUND => "not_found",
        Err(_) => "error",
    };
    st.metrics
        .firmware_downloads
        .get_or_create(&Metrics::outcome(outcome))
        .inc();
    resp
}

/// `GET /api/iot/firmware-version` → `{"firmware_version": "<v>" | null}`.
pub async fn device_version(
    State(st): State<AppState>,
    DeviceAuth(device): DeviceAuth,
) -> ApiResult<Json<Value>> {
    let model = st
        .blocking(move |st| {
            models::find(&*st.db.conn()?, device.model_id)?
                .ok_or_else(|| Error::not_found("DeviceModel", &device.model))
        })
        .await?;
    Ok(Json(json!({"firmware_version": model.firmware_version})))
}

/// `GET /api/models/{code}/firmware` → `{"versions": [...]}`, newest first.
pub async fn list(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let versions = st.blocking(move |st| service::list(&st.db, &code)).await?;
    Ok(Json(json!({"versions": versions})))
}

/// `GET /api/models/{code}/firmware/{version}`: the stored bundle (or `.bin` for raw uploads).
pub async fn download(
    State(st): State<AppState>,
    _: AdminAuth,
    Path((code, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let file = st
        .blocking(move |st| service::open_stored(&st.db, &st.layout, &code, &version))
        .await?;
    send_file(file, &headers, "attachment").await
}

/// `DELETE /api/models/{code}/firmware/{version}` → 204.
pub async fn delete(
    State(st): State<AppState>,
    _: AdminAuth,
    Path((code, version)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    st.blocking(move |st| service::delete_version(&st.db, &st.layout, &code, &version))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Answers a GET for `f`: 304 when `If-None-Match` names its ETag, 206/416 for a single
/// `Range`, else 200; the body is streamed from the open file.
pub async fn send_file(f: OpenFile, req: &HeaderMap, disposition: &str) -> ApiResult<Response> {
    let etag = download::etag(&f.sha256);
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "no-cache");
    if let Some(inm) = header_str(req, header::IF_NONE_MATCH)
        && download::none_match(inm, &etag)
    {
        return Ok(builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .map_err(|e| Error::Internal(e.to_string()))?);
    }
    let plan = download::plan(
        header_str(req, header::RANGE),
        header_str(req, header::IF_RANGE),
        &etag,
        f.len,
    );
    let (status, start, count) = match plan {
        Plan::Full => (StatusCode::OK, 0, f.len),
        Plan::Partial { start, end } => {
            builder = builder.header(
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{}", f.len),
            );
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        Plan::Unsatisfiable => {
            return Ok(builder
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{}", f.len))
                .body(Body::empty())
                .map_err(|e| Error::Internal(e.to_string()))?);
        }
    };
    let mut file = tokio::fs::File::from_std(f.file);
    if start > 0 {
        file.seek(SeekFrom::Start(start))
            .await
            .map_err(Error::from)?;
    }
    let stream = ReaderStream::with_capacity(file.take(count), CHUNK);
    let disposition = HeaderValue::from_str(&format!("{disposition}; filename={}", f.filename))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok(builder
        .status(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_DISPOSITION, disposition)
        .header(header::CONTENT_LENGTH, count)
        .body(Body::from_stream(stream))
        .map_err(|e| Error::Internal(e.to_string()))?
        .into_response())
}

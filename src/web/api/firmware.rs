//! Firmware endpoints for devices (`GET /api/iot/firmware`, `GET /api/iot/firmware-version`)
//! and admins (`/api/models/{code}/firmware...`); the CI side lives in [`super::pipeline`].
//! Files are streamed from disk by [`FileBody`] (chunks read on the blocking pool, the next
//! one read ahead while the current one is sent), with ETag/304 and single-range 206/416
//! decided by [`crate::firmware::download`]. Memory per download is two chunks, whatever the
//! image size.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Json;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::firmware::download::{self, Plan};
use crate::firmware::service::{self, OpenFile};
use crate::ids::check_device_field;
use crate::metrics::Metrics;
use crate::rollout::decide::Source;
use crate::rollout::service as rollout;
use crate::web::auth::{AdminAuth, DeviceAuth};
use crate::web::error::{ApiError, ApiResult};
use crate::web::extract;
use crate::web::state::AppState;

/// Read size of the streamed body: large enough that one blocking read per chunk is cheap.
const CHUNK: usize = 256 << 10;

/// The version a device says it runs: `?current_version=` (unencoded values accepted), else
/// the `X-Firmware-Version` header; blank is none. Over 64 characters or not printable: 400.
pub fn reported_version(query: Option<&str>, headers: &HeaderMap) -> ApiResult<Option<String>> {
    let q = extract::parse_query(query);
    let raw = match q.get("current_version") {
        Some(v) => v.clone(),
        None => match headers.get("x-firmware-version") {
            Some(h) => h
                .to_str()
                .map_err(|_| {
                    ApiError::validation(
                        "Header X-Firmware-Version contains non-printable characters",
                    )
                })?
                .to_string(),
            None => return Ok(None),
        },
    };
    let v = raw.trim();
    if v.is_empty() {
        return Ok(None);
    }
    check_device_field("current_version", v).map_err(ApiError::validation)?;
    Ok(Some(v.to_string()))
}

/// `GET /api/iot/firmware[?current_version=V]`: the app image this device is offered (pin >
/// exclusion > canary > model target); 204 for an excluded device. Records the check-in.
pub async fn device_download(
    State(st): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let reported = reported_version(query.as_deref(), &headers)?;
    st.checkins
        .seen(device.id, device.model_id, reported.as_deref());
    let code = device.model.clone();
    let image = st
        .blocking(move |st| {
            let offer = rollout::offer(&st.db, device.id, reported.as_deref())?;
            match (offer.source, offer.version) {
                (Source::Excluded, _) => Ok(None),
                (Source::Pin | Source::Canary, Some(v)) => {
                    service::version_image(&st.db, &st.layout, code.as_str(), &v).map(Some)
                }
                _ => service::current_image(&st.db, &st.layout, code.as_str()).map(Some),
            }
        })
        .await;
    let resp = match image {
        Ok(Some(image)) => send_file(image, &headers, "attachment").await,
        Ok(None) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e) => Err(e.into()),
    };
    let outcome = match &resp {
        Ok(r) if r.status() == StatusCode::NO_CONTENT => "excluded",
        Ok(r) if r.status() == StatusCode::OK => "full",
        Ok(r) if r.status() == StatusCode::PARTIAL_CONTENT => "partial",
        Ok(r) if r.status() == StatusCode::NOT_MODIFIED => "not_modified",
        Ok(r) if r.status() == StatusCode::RANGE_NOT_SATISFIABLE => "unsatisfiable",
        Ok(_) => "other",
        Err(e) if e.status == StatusCode::NOT_FOUND => "not_found",
        Err(_) => "error",
    };
    Metrics::count(&st.metrics.firmware_downloads, outcome);
    resp
}

/// `GET /api/iot/firmware-version[?current_version=V]` → `{"firmware_version": "<v>" | null,
/// "source": "pin" | "excluded" | "canary" | "target"}`: the version this device is offered.
/// Records the check-in.
pub async fn device_version(
    State(st): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let reported = reported_version(query.as_deref(), &headers)?;
    st.checkins
        .seen(device.id, device.model_id, reported.as_deref());
    let offer = st
        .blocking(move |st| rollout::offer(&st.db, device.id, reported.as_deref()))
        .await?;
    Ok(Json(
        json!({"firmware_version": offer.version, "source": offer.source.as_str()}),
    ))
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
    auth: AdminAuth,
    Path((code, version)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let actor = auth.actor();
    st.blocking(move |st| service::delete_version(&st.db, &st.layout, &code, &version, &actor))
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
    let body = FileBody::new(f.file, start, count);
    let disposition = HeaderValue::from_str(&format!("{disposition}; filename={}", f.filename))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok(builder
        .status(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_DISPOSITION, disposition)
        .header(header::CONTENT_LENGTH, count)
        .body(Body::new(body))
        .map_err(|e| Error::Internal(e.to_string()))?
        .into_response())
}

/// A response body that streams `len` bytes of a file from `pos`: each chunk is read on the
/// blocking pool straight into the buffer that goes to the socket (no extra copy), and the next
/// chunk is read while the current one is being sent.
struct FileBody {
    file: Arc<File>,
    /// Offset of the next chunk to read.
    pos: u64,
    end: u64,
    /// Bytes not yet handed to the connection.
    remaining: u64,
    reading: Option<JoinHandle<io::Result<Bytes>>>,
}

impl FileBody {
    fn new(file: File, pos: u64, len: u64) -> FileBody {
        FileBody {
            file: Arc::new(file),
            pos,
            end: pos.saturating_add(len),
            remaining: len,
            reading: None,
        }
    }

    /// Starts reading the next chunk, if any is left.
    fn read_ahead(&mut self) {
        if self.reading.is_some() || self.pos >= self.end {
            return;
        }
        let n = (self.end - self.pos).min(CHUNK as u64);
        let (file, pos) = (self.file.clone(), self.pos);
        self.pos += n;
        self.reading = Some(tokio::task::spawn_blocking(move || {
            let mut f = &*file;
            f.seek(SeekFrom::Start(pos))?;
            let mut buf = Vec::with_capacity(n as usize);
            f.take(n).read_to_end(&mut buf)?;
            if (buf.len() as u64) < n {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being sent",
                ));
            }
            Ok(Bytes::from(buf))
        }));
    }
}

impl HttpBody for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        this.read_ahead();
        let Some(reading) = this.reading.as_mut() else {
            return Poll::Ready(None);
        };
        let done = match Pin::new(reading).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(done) => done,
        };
        this.reading = None;
        match done {
            Ok(Ok(chunk)) => {
                this.remaining = this.remaining.saturating_sub(chunk.len() as u64);
                this.read_ahead();
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Ok(Err(e)) => Poll::Ready(Some(Err(e))),
            Err(e) => Poll::Ready(Some(Err(io::Error::other(e)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

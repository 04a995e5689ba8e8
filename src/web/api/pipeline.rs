//! CI endpoints (`/api/pipeline/*`, pipeline token): firmware upload and the current version,
//! plus the public `upload.sh` script, as the original Python system offered them.
//!
//! The upload body is read with a cap of `Config.max_bundle_bytes`: a larger `Content-Length`
//! is refused (413) before anything is read, and a body that grows past the cap while
//! streaming (chunked, or a lying multipart) is cut off with the same 413.

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::firmware::{script, service};
use crate::fleet;
use crate::metrics::Metrics;
use crate::web::auth::PipelineAuth;
use crate::web::error::{ApiError, ApiResult, store_outcome};
use crate::web::extract;
use crate::web::state::AppState;

/// Room for multipart boundaries and part headers around the bundle itself.
const MULTIPART_OVERHEAD: u64 = 64 << 10;

/// `POST /api/pipeline/models/{code}/firmware[?target=false]`: raw body or multipart field
/// `file`. 200 `{"id","code","firmware_version","target","has_elf","warnings"}`. With
/// `target=false` the version is stored but does not become the model target.
pub async fn upload(
    State(st): State<AppState>,
    PipelineAuth(token): PipelineAuth,
    Path(code): Path<String>,
    RawQuery(query): RawQuery,
    req: Request,
) -> ApiResult<Json<Value>> {
    let actor = crate::audit::Actor::Token(token.name);
    let result = async {
        let _slot = st.firmware_upload_slot()?;
        let make_target = match extract::parse_query(query.as_deref())
            .get("target")
            .map(|v| v.trim())
        {
            None | Some("") | Some("true") | Some("1") => true,
            Some("false") | Some("0") => false,
            Some(other) => {
                return Err(ApiError::validation(format!(
                    "Query parameter target must be true or false, not {:?}",
                    other.chars().take(20).collect::<String>()
                )));
            }
        };
        let body = read_upload(&st, req).await?;
        let u = st
            .blocking(move |st| {
                service::upload_with(
                    &st.db,
                    &st.layout,
                    &st.config,
                    &st.jobs,
                    &code,
                    &body,
                    &service::How {
                        make_target,
                        actor: &actor,
                    },
                )
            })
            .await?;
        Ok::<_, ApiError>(Json(json!({
            "id": u.id, "code": u.code, "firmware_version": u.firmware_version,
            "target": u.target, "has_elf": u.has_elf, "warnings": u.warnings,
        })))
    }
    .await;
    Metrics::count(&st.metrics.firmware_uploads, store_outcome(&result));
    result
}

fn too_large(st: &AppState) -> ApiError {
    service::too_large(st.config.max_bundle_bytes).into()
}

/// The uploaded bytes: the multipart field `file` when the body is multipart (no such field
/// → empty), else the raw body; capped at the bundle limit.
async fn read_upload(st: &AppState, req: Request) -> ApiResult<bytes::Bytes> {
    let limit = st.config.max_bundle_bytes;
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    let declared = extract::content_length(req.headers());
    let allowed = if is_multipart {
        limit + MULTIPART_OVERHEAD
    } else {
        limit
    };
    if declared.is_some_and(|n| n > allowed) {
        return Err(too_large(st));
    }
    if !is_multipart {
        return extract::read_capped(
            req.into_body(),
            usize::try_from(limit).unwrap_or(usize::MAX),
        )
        .await
        .map_err(|e| e.into_api(|| too_large(st)));
    }
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::validation(format!("Invalid multipart body: {}", e.body_text()))
    };
    let mut form = Multipart::from_request(req, st)
        .await
        .map_err(|e| ApiError::validation(format!("Invalid multipart body: {}", e.body_text())))?;
    let mut file: Option<bytes::BytesMut> = None;
    let mut total: u64 = 0;
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        let wanted = field.name() == Some("file") && file.is_none();
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            total += chunk.len() as u64;
            if total > allowed || (wanted && (buf.len() + chunk.len()) as u64 > limit) {
                return Err(too_large(st));
            }
            if wanted {
                buf.extend_from_slice(&chunk);
            }
        }
        if wanted {
            file = Some(buf);
        }
    }
    Ok(file.map(|b| b.freeze()).unwrap_or_default())
}

/// `GET /api/pipeline/models/{code}/firmware-version` → `{"code", "firmware_version"}`.
pub async fn firmware_version(
    State(st): State<AppState>,
    _: PipelineAuth,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let model = st
        .blocking(move |st| fleet::models::find(&st.db, &code))
        .await?;
    Ok(Json(
        json!({"code": model.code, "firmware_version": model.firmware_version}),
    ))
}

/// `GET /api/pipeline/upload.sh` (public): the CI script with this server's URL baked in:
/// `CRASHBOX_PUBLIC_URL` when it is set (then no request header can change it), else one made
/// from `Host` / `X-Forwarded-Host` (checked to be a plain host name).
pub async fn upload_script(State(st): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let url = match &st.config.public_url {
        Some(url) => url.clone(),
        None => {
            let host = h("x-forwarded-host").or_else(|| h("host"));
            script::safe_backend_url(h("x-forwarded-proto"), host)
        }
    };
    (
        [
            (header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "inline; filename=upload.sh"),
        ],
        Body::from(script::upload_script(&url)),
    )
}

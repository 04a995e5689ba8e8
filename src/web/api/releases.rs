//! Release health endpoints: `GET /api/models/{code}/releases` (every version, newest first)
//! and `GET /api/models/{code}/releases/{version}` (one version with its 30 days and new
//! groups).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::releases;
use crate::web::auth::AdminAuth;
use crate::web::error::ApiResult;
use crate::web::state::AppState;

/// `GET /api/models/{code}/releases` → `{"releases": [...]}`.
pub async fn list(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let list = st.blocking(move |st| releases::list(&st.db, &code)).await?;
    Ok(Json(json!({"releases": list})))
}

/// `GET /api/models/{code}/releases/{version}` → the release with `days` and `groups`.
pub async fn detail(
    State(st): State<AppState>,
    _: AdminAuth,
    Path((code, version)): Path<(String, String)>,
) -> ApiResult<Json<releases::Detail>> {
    Ok(Json(
        st.blocking(move |st| releases::detail(&st.db, &code, &version))
            .await?,
    ))
}

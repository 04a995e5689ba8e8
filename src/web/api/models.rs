//! Admin model endpoints: `/api/models`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::db::models;
use crate::fleet;
use crate::web::auth::AdminAuth;
use crate::web::error::ApiResult;
use crate::web::extract::ApiJson;
use crate::web::state::AppState;

/// `GET /api/models`: every model as `{"models", "count"}`.
pub async fn list(State(st): State<AppState>, _: AdminAuth) -> ApiResult<Json<Value>> {
    let items = st.blocking(|st| Ok(models::list(&*st.db.conn()?)?)).await?;
    Ok(Json(json!({"models": items, "count": items.len()})))
}

/// Body of `POST /api/models`: the code and an optional name (default: the code).
#[derive(Deserialize)]
pub struct NewModel {
    code: String,
    name: Option<String>,
}

/// `POST /api/models`: creates a model; 201 with the model.
pub async fn create(
    State(st): State<AppState>,
    auth: AdminAuth,
    ApiJson(body): ApiJson<NewModel>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = auth.actor();
    let model = st
        .blocking(move |st| fleet::models::create(&st.db, &body.code, body.name.as_deref(), &actor))
        .await?;
    Ok((StatusCode::CREATED, Json(json!(model))))
}

/// `GET /api/models/{code}`: one model.
pub async fn detail(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let model = st
        .blocking(move |st| fleet::models::find(&st.db, &code))
        .await?;
    Ok(Json(json!(model)))
}

/// `DELETE /api/models/{code}`: deletes a model without devices, and its firmware; 204.
pub async fn delete(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(code): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = auth.actor();
    st.blocking(move |st| fleet::models::delete(&st.db, &st.layout, &code, &actor))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

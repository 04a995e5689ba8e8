//! Admin API-token endpoints: `/api/tokens`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::db::tokens::{self, Role};
use crate::fleet;
use crate::ids::TokenId;
use crate::web::auth::AdminAuth;
use crate::web::error::ApiResult;
use crate::web::extract::{ApiJson, path_id};
use crate::web::state::AppState;

pub async fn list(State(st): State<AppState>, _: AdminAuth) -> ApiResult<Json<Value>> {
    let items = st.blocking(|st| Ok(tokens::list(&*st.db.conn()?)?)).await?;
    Ok(Json(json!({"tokens": items})))
}

#[derive(Deserialize)]
pub struct NewToken {
    name: String,
    role: Role,
}

pub async fn create(
    State(st): State<AppState>,
    _: AdminAuth,
    ApiJson(body): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let token = st
        .blocking(move |st| fleet::tokens::create(&st.db, &body.name, body.role))
        .await?;
    Ok((StatusCode::CREATED, Json(json!(token))))
}

pub async fn revoke(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = TokenId(path_id(&id, "Token")?);
    st.blocking(move |st| fleet::tokens::revoke(&st.db, id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

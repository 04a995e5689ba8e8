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

/// `GET /api/tokens`: every API token (revoked ones included) as `{"tokens"}`, without secrets.
pub async fn list(State(st): State<AppState>, _: AdminAuth) -> ApiResult<Json<Value>> {
    let items = st.blocking(|st| Ok(tokens::list(&*st.db.conn()?)?)).await?;
    Ok(Json(json!({"tokens": items})))
}

/// Body of `POST /api/tokens`: a name and the role (`admin` or `pipeline`).
#[derive(Deserialize)]
pub struct NewToken {
    name: String,
    role: Role,
}

/// `POST /api/tokens`: issues a token; 201 with its secret, shown only this once.
pub async fn create(
    State(st): State<AppState>,
    auth: AdminAuth,
    ApiJson(body): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = auth.actor();
    let token = st
        .blocking(move |st| fleet::tokens::create(&st.db, &body.name, body.role, &actor))
        .await?;
    Ok((StatusCode::CREATED, Json(json!(token))))
}

/// `DELETE /api/tokens/{id}`: revokes the token; 204.
pub async fn revoke(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = auth.actor();
    let id = TokenId(path_id(&id, "Token")?);
    st.blocking(move |st| fleet::tokens::revoke(&st.db, id, &actor))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

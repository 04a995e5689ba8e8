//! Admin notification endpoints: `/api/notifications/…`. Secrets are write-only: the webhook
//! secret is answered once, by create.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::notify::service::{self, ChannelInput};
use crate::web::auth::AdminAuth;
use crate::web::error::{ApiError, ApiResult};
use crate::web::extract::{ApiJson, path_id};
use crate::web::state::AppState;

fn channel_id(segment: &str) -> Result<i64, ApiError> {
    path_id(segment, "NotificationChannel")
}

/// `GET /api/notifications/channels`: `{"channels":[…]}` (no secrets; `has_secret`).
pub async fn list(State(st): State<AppState>, _: AdminAuth) -> ApiResult<Json<Value>> {
    let rows = st.blocking(|st| service::list(&st.db)).await?;
    Ok(Json(json!({"channels": rows})))
}

/// `POST /api/notifications/channels`: `201` with the channel; a webhook's answer also has
/// `"secret":"whsec_…"`, the only time it is shown.
pub async fn create(
    State(st): State<AppState>,
    auth: AdminAuth,
    ApiJson(body): ApiJson<ChannelInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = auth.actor();
    let c = st
        .blocking(move |st| service::create(&st.db, &body, &actor))
        .await?;
    let mut v = json!(c.channel);
    if let Some(s) = c.secret {
        v["secret"] = json!(s);
    }
    Ok((StatusCode::CREATED, Json(v)))
}

/// `PUT /api/notifications/channels/{id}`: replaces the settings; the channel.
pub async fn update(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChannelInput>,
) -> ApiResult<Json<Value>> {
    let actor = auth.actor();
    let id = channel_id(&id)?;
    let c = st
        .blocking(move |st| service::update(&st.db, id, &body, &actor))
        .await?;
    Ok(Json(json!(c)))
}

/// `DELETE /api/notifications/channels/{id}`: `204`.
pub async fn delete(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = auth.actor();
    let id = channel_id(&id)?;
    st.blocking(move |st| service::delete(&st.db, id, &actor))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/notifications/channels/{id}/test`: queues a `test` event to this channel only;
/// `202 {"event_id":…}`.
pub async fn test(
    State(st): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = auth.actor();
    let id = channel_id(&id)?;
    let event_id = st
        .blocking(move |st| service::test(&st.db, &st.notify, id, &actor))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"event_id": event_id}))))
}

/// Query of `GET /api/notifications/deliveries`.
#[derive(Deserialize)]
pub struct DeliveriesQuery {
    limit: Option<i64>,
}

/// `GET /api/notifications/deliveries?limit=N`: `{"deliveries":[…]}`, newest first.
pub async fn deliveries(
    State(st): State<AppState>,
    _: AdminAuth,
    Query(q): Query<DeliveriesQuery>,
) -> ApiResult<Json<Value>> {
    let rows = st
        .blocking(move |st| service::deliveries(&st.db, q.limit))
        .await?;
    Ok(Json(json!({"deliveries": rows})))
}

//! `POST /api/devices/{id}/coredumps/{cid}/reparse` (admin): the dump goes back to `PENDING` and
//! into the parse queue; 202 with the dump's new state.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::ids::{CoredumpId, DeviceId};
use crate::web::auth::AdminAuth;
use crate::web::error::ApiResult;
use crate::web::extract::path_id;
use crate::web::state::AppState;
use crate::worker::reparse;

/// `POST /api/devices/{id}/coredumps/{cid}/reparse`: re-queues the dump; 202 with `parse_status:
/// PENDING`.
pub async fn reparse(
    State(st): State<AppState>,
    _: AdminAuth,
    Path((device, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let device = DeviceId(path_id(&device, "Device")?);
    let id = CoredumpId(path_id(&id, "Coredump")?);
    st.blocking(move |st| reparse::reparse_one(&st.db, &st.layout, &st.jobs, device, id))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": id, "device_id": device, "parse_status": "PENDING"})),
    ))
}

//! Operations endpoints: `/healthz` (database reachable, folders writable) and `/metrics`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use super::state::AppState;

/// `GET /healthz`: 200 `{"status": "ok"}` when the database answers and both storage folders are
/// writable, else 503 with the error.
pub async fn healthz(State(st): State<AppState>) -> impl IntoResponse {
    let result = st
        .blocking(|st| {
            st.db.conn()?.query_row("SELECT 1", [], |_| Ok(()))?;
            for dir in [&st.layout.coredumps_dir, &st.layout.assets_dir] {
                tempfile::tempfile_in(dir)?;
            }
            Ok(())
        })
        .await;
    match result {
        Ok(()) => (StatusCode::OK, axum::Json(json!({"status": "ok"}))),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "unavailable", "error": e.to_string()})),
            )
        }
    }
}

/// `GET /metrics`: every metric in OpenMetrics text format (refreshes the queue depth first).
pub async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    st.metrics.queue_depth.set(st.jobs.depth());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.metrics.encode(),
    )
}

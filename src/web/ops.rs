//! Operations endpoints: `/healthz` (database reachable, folders writable) and `/metrics`
//! (optionally restricted to an address list or a bearer token).

use std::net::IpAddr;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::client::ClientAddr;
use super::error::ApiError;
use super::state::AppState;
use crate::auth::tokens;
use crate::config::MetricsAccess;

/// `GET /healthz`: 200 `{"status": "ok"}` when the database answers and both storage folders are
/// writable, else 503 `{"status": "unavailable", "error": …}` naming the part that failed
/// (`database` or `storage`); the OS's error text goes to the log only (it names paths).
pub async fn healthz(State(st): State<AppState>) -> impl IntoResponse {
    let result = st
        .blocking(|st| {
            let db = st
                .db
                .conn()
                .map_err(crate::error::Error::from)
                .and_then(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?));
            if let Err(e) = db {
                return Ok(Err(("database", e)));
            }
            for dir in [&st.layout.coredumps_dir, &st.layout.assets_dir] {
                if let Err(e) = tempfile::tempfile_in(dir) {
                    return Ok(Err(("storage", e.into())));
                }
            }
            Ok(Ok(()))
        })
        .await;
    let failed = match result {
        Ok(Ok(())) => return (StatusCode::OK, axum::Json(json!({"status": "ok"}))),
        Ok(Err((part, e))) => {
            tracing::error!(error = %e, part, "health check failed");
            part
        }
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            "server"
        }
    };
    let text = match failed {
        "database" => "database unavailable",
        "storage" => "storage folder not writable",
        _ => "health check failed",
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({"status": "unavailable", "error": text})),
    )
}

/// `GET /metrics`: every metric in OpenMetrics text format (refreshes the queue depth first).
/// Restricted by `CRASHBOX_METRICS_ALLOW` / `CRASHBOX_METRICS_TOKEN` when set: 401 without
/// the token, else 403.
pub async fn metrics(
    State(st): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
) -> Response {
    let access = &st.config.metrics_access;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("Bearer "))
        .map(str::trim);
    if !may_read_metrics(access, ip, bearer) {
        return if access.token.is_some() {
            ApiError::unauthenticated("/metrics needs its bearer token").into_response()
        } else {
            ApiError::forbidden("/metrics is not open to this address").into_response()
        };
    }
    st.metrics.queue_depth.set(st.jobs.depth());
    let (writes, commits) = st.db.write_stats();
    st.metrics.db_writes.set(writes as i64);
    st.metrics.db_commits.set(commits as i64);
    st.metrics
        .db_relaxed_commits
        .set(st.db.relaxed_commits() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.metrics.encode(),
    )
        .into_response()
}

/// Whether a client at `ip` presenting `bearer` may read `/metrics`.
pub fn may_read_metrics(access: &MetricsAccess, ip: IpAddr, bearer: Option<&str>) -> bool {
    if access.is_open() || access.allow.contains(ip) {
        return true;
    }
    match (&access.token, bearer) {
        (Some(token), Some(given)) => tokens::matches(given, &tokens::hash(token)),
        _ => false,
    }
}

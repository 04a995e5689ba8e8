//! The route table of the JSON API and the ops endpoints, in the order of the endpoint list in
//! docs/api.md, plus the request middleware (metrics by matched route, tracing spans). The
//! dashboard's routes are in `web::pages::routes` (they carry their own body limits, security
//! headers and static assets) and are merged here.

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

use super::api::{
    audit, coredumps, devices, firmware, groups, iot, models, notify, pipeline, releases, reparse,
    rollouts, tokens,
};
use super::limits::{self, RequestTimeouts};
use super::ops;
use super::state::AppState;
use crate::metrics::{HttpLabels, RouteLabels};

/// Every route of the server: the JSON API, the ops endpoints and the dashboard.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        // Device
        .route("/api/iot/coredump", post(iot::upload_coredump))
        .route("/api/iot/firmware", get(firmware::device_download))
        .route("/api/iot/firmware-version", get(firmware::device_version))
        // Admin: devices and their dumps
        .route("/api/devices", get(devices::list).post(devices::create))
        .route(
            "/api/devices/{id}",
            get(devices::detail)
                .delete(devices::delete)
                .patch(rollouts::device_patch),
        )
        .route(
            "/api/devices/{id}/ota",
            axum::routing::put(rollouts::device_ota),
        )
        .route("/api/devices/{id}/token", post(devices::rotate_token))
        .route(
            "/api/devices/{id}/coredumps",
            get(coredumps::list).delete(coredumps::delete_all),
        )
        .route(
            "/api/devices/{id}/coredumps/{cid}",
            get(coredumps::detail).delete(coredumps::delete_one),
        )
        .route(
            "/api/devices/{id}/coredumps/{cid}/download",
            get(coredumps::download),
        )
        .route(
            "/api/devices/{id}/coredumps/{cid}/reparse",
            post(reparse::reparse),
        )
        // Admin: models
        .route("/api/models", get(models::list).post(models::create))
        .route(
            "/api/models/{code}",
            get(models::detail).delete(models::delete),
        )
        // Admin: release health and rollouts
        .route("/api/models/{code}/releases", get(releases::list))
        .route(
            "/api/models/{code}/releases/{version}",
            get(releases::detail),
        )
        .route(
            "/api/models/{code}/rollout",
            get(rollouts::get).put(rollouts::put),
        )
        .route(
            "/api/models/{code}/rollout/promote",
            post(rollouts::promote),
        )
        .route("/api/models/{code}/rollout/resume", post(rollouts::resume))
        // Admin: crash groups
        .route("/api/groups", get(groups::list))
        .route("/api/groups/{id}", get(groups::detail))
        .route("/api/groups/{id}/resolve", post(groups::resolve))
        .route("/api/groups/{id}/mute", post(groups::mute))
        .route("/api/groups/{id}/reopen", post(groups::reopen))
        .route("/api/groups/{id}/merge", post(groups::merge))
        // Admin: notifications
        .route(
            "/api/notifications/channels",
            get(notify::list).post(notify::create),
        )
        .route(
            "/api/notifications/channels/{id}",
            axum::routing::put(notify::update).delete(notify::delete),
        )
        .route("/api/notifications/channels/{id}/test", post(notify::test))
        .route("/api/notifications/deliveries", get(notify::deliveries))
        // Admin: the audit log
        .route("/api/audit", get(audit::list))
        // Admin: API tokens
        .route("/api/tokens", get(tokens::list).post(tokens::create))
        .route("/api/tokens/{id}", axum::routing::delete(tokens::revoke))
        // Admin: firmware versions
        .route("/api/models/{code}/firmware", get(firmware::list))
        .route(
            "/api/models/{code}/firmware/{version}",
            get(firmware::download).delete(firmware::delete),
        )
        // CI pipeline: bundle upload, current version, the upload script
        .route(
            "/api/pipeline/models/{code}/firmware",
            // The bundle limit is ours (Config.max_bundle_bytes), not the router's 1 MiB; the
            // handler counts every byte it reads against it.
            post(pipeline::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/pipeline/models/{code}/firmware-version",
            get(pipeline::firmware_version),
        )
        .route("/api/pipeline/upload.sh", get(pipeline::upload_script))
        // Ops
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics));

    // The HTML dashboard (its own body limits, security headers and static assets).
    let api = api.merge(super::pages::routes(&state));
    let timeouts = RequestTimeouts {
        body_idle: state.config.http.body_idle_timeout,
        deadline: state.config.http.request_timeout,
    };

    api.layer(DefaultBodyLimit::max(1 << 20))
        .layer(middleware::from_fn_with_state(timeouts, limits::enforce))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), route = route.as_deref().unwrap_or("-"))
        }))
        .with_state(state)
}

/// Counts requests and records latency by matched route (unmatched paths share one label so
/// scanners cannot blow up the label set).
async fn track(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().to_string();
    let start = Instant::now();
    let in_flight = InFlight::enter(&st.metrics.http_in_flight);
    let resp = next.run(req).await;
    drop(in_flight);
    let labels = HttpLabels {
        method,
        route: route.clone(),
        status: resp.status().as_u16(),
    };
    st.metrics.http_requests.get_or_create(&labels).inc();
    st.metrics
        .http_duration
        .get_or_create(&RouteLabels { route })
        .observe(start.elapsed().as_secs_f64());
    resp
}

/// One request counted in `crashbox_http_requests_in_flight`, also when its future is dropped
/// (a connection cut mid-request).
struct InFlight(prometheus_client::metrics::gauge::Gauge);

impl InFlight {
    fn enter(g: &prometheus_client::metrics::gauge::Gauge) -> InFlight {
        g.inc();
        InFlight(g.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

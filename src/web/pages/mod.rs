//! The server-rendered admin dashboard: one file per screen, askama templates in `templates/`,
//! assets from `static/` compiled in. Handlers follow one shape: the [`guard::AdminPage`] or
//! [`guard::AdminForm`] extractor authenticates (and checks the form's CSRF token), one
//! service or storage call runs off the runtime, then the page renders or a POST redirects.
//!
//! The home page is "Problems" (the crash groups); each group has its page under `/groups/`.
//!
//! Deleting (or merging) anything takes a confirmation: a POST without `confirm=yes` redirects to a
//! confirmation page (so it works without JavaScript); `static/app.js` asks in place instead.
//! Pages never talk JSON: errors render [`error::PageError`].

pub mod assets;
pub mod audit;
pub mod confirm;
pub mod coredump;
pub mod device;
pub mod device_ota;
pub mod devices;
pub mod error;
pub mod group;
pub mod guard;
pub mod home;
pub mod layout;
pub mod login;
pub mod models;
pub mod notifications;
pub mod release;
pub mod rollout;
pub mod tokens;
pub mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};

use super::state::AppState;

/// Every dashboard route. Merged into the main router next to the JSON API. Forms are capped
/// at 64 KiB; the firmware upload form at the bundle limit plus [`models::FORM_OVERHEAD`].
pub fn routes(state: &AppState) -> Router<AppState> {
    let upload_cap = usize::try_from(state.config.max_bundle_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(models::FORM_OVERHEAD);
    let firmware_upload = Router::new()
        .route("/models/{code}/firmware", post(models::upload_firmware))
        .layer(DefaultBodyLimit::max(upload_cap));
    Router::new()
        .route("/", get(home::show))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route(
            "/account/password",
            get(login::password_form).post(login::password_submit),
        )
        .route("/groups/{id}", get(group::show))
        .route("/groups/{id}/resolve", post(group::resolve))
        .route("/groups/{id}/mute", post(group::mute))
        .route("/groups/{id}/reopen", post(group::reopen))
        .route(
            "/groups/{id}/merge",
            get(group::merge_confirm).post(group::merge),
        )
        .route("/devices", get(devices::list).post(devices::create))
        .route("/devices/{id}", get(device::show))
        .route("/devices/{id}/token", post(device::rotate_token))
        .route("/devices/{id}/ota", post(device_ota::set_ota))
        .route("/devices/{id}/tag", post(device_ota::set_tag))
        .route(
            "/devices/{id}/delete",
            get(devices::delete_confirm).post(devices::delete),
        )
        .route(
            "/devices/{id}/coredumps/delete",
            get(device::delete_all_confirm).post(device::delete_all),
        )
        .route("/devices/{id}/coredumps/{cid}", get(coredump::show))
        .route(
            "/devices/{id}/coredumps/{cid}/reparse",
            post(coredump::reparse),
        )
        .route(
            "/devices/{id}/coredumps/{cid}/delete",
            get(coredump::delete_confirm).post(coredump::delete),
        )
        .route("/audit", get(audit::show))
        .route("/notifications", get(notifications::show))
        .route("/notifications/channels", post(notifications::create))
        .route(
            "/notifications/channels/{id}",
            get(notifications::edit).post(notifications::update),
        )
        .route(
            "/notifications/channels/{id}/test",
            post(notifications::test),
        )
        .route(
            "/notifications/channels/{id}/delete",
            get(notifications::delete_confirm).post(notifications::delete),
        )
        .route("/models", get(models::list).post(models::create))
        .route("/models/{code}", get(models::show))
        .route("/models/{code}/releases/{version}", get(release::show))
        .route("/models/{code}/rollout", post(rollout::save))
        .route("/models/{code}/rollout/promote", post(rollout::promote))
        .route("/models/{code}/rollout/resume", post(rollout::resume))
        .route(
            "/models/{code}/delete",
            get(models::delete_confirm).post(models::delete),
        )
        .route(
            "/models/{code}/firmware/{version}/delete",
            get(models::firmware_delete_confirm).post(models::firmware_delete),
        )
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route(
            "/tokens/{id}/revoke",
            get(tokens::revoke_confirm).post(tokens::revoke),
        )
        .layer(DefaultBodyLimit::max(64 << 10))
        .merge(firmware_upload)
        .layer(axum::Extension(Arc::new(
            crate::auth::lockout::Lockout::default(),
        )))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error::with_navigation,
        ))
        .layer(axum::middleware::map_response(security_headers))
        .route("/static/{*path}", get(assets::serve))
}

/// Headers on every page: no framing, no foreign scripts or styles, no sniffing.
async fn security_headers(mut resp: axum::response::Response) -> axum::response::Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, private"),
        );
    }
    resp
}

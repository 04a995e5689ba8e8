//! Who is calling: one extractor per principal, so a handler's signature says who may call it.
//!
//! - [`DeviceAuth`]: a device bearer token (`/api/iot/*`).
//! - [`PipelineAuth`]: an API token with role `pipeline` (`/api/pipeline/*`).
//! - [`AdminAuth`]: an API token with role `admin`, or a dashboard session cookie (state-changing
//!   requests made with the cookie must carry the session's CSRF token in `X-CSRF-Token`).
//!
//! Tokens are looked up by their SHA-256 and compared in constant time. A principal never
//! reaches another's routes: an unknown token is 401, and so is a device token on an API route
//! or an API token on a device route (they live in different tables); an API token of the
//! other role is 403 (docs/api.md has the table, tests/api_admin.rs tests it).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};

use super::error::ApiError;
use super::state::AppState;
use crate::auth::tokens;
use crate::db::devices::Device;
use crate::db::sessions::{self, Session};
use crate::db::tokens::{ApiToken, Role};
use crate::db::{self as dbm};

/// Name of the dashboard session cookie.
pub const SESSION_COOKIE: &str = "crashbox_session";

/// The calling device.
pub struct DeviceAuth(pub Device);
/// The calling pipeline's token.
pub struct PipelineAuth(pub ApiToken);
/// The calling admin: an API token or a dashboard session.
pub enum AdminAuth {
    /// An API token with role `admin`.
    Token(ApiToken),
    /// A dashboard session (its state-changing requests carry the CSRF header).
    Session(Session),
}

impl AdminAuth {
    /// Who is acting, for the audit log: the session's user name or `token:<name>`.
    pub fn actor(&self) -> crate::audit::Actor {
        match self {
            AdminAuth::Token(t) => crate::audit::Actor::Token(t.name.clone()),
            AdminAuth::Session(s) => crate::audit::Actor::User(s.username.clone()),
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// The value of a cookie in the request's headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

const NO_TOKEN: &str = "No valid token provided";

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .ok_or_else(|| ApiError::unauthenticated(NO_TOKEN))?
            .to_string();
        let found = st
            .db
            .call(move |c| {
                dbm::devices::find_by_token_hash(c, &tokens::hash(&token)).map(|r| (r, token))
            })
            .await?;
        match found {
            (Some((device, stored)), token) if tokens::matches(&token, &stored) => {
                Ok(DeviceAuth(device))
            }
            _ => Err(ApiError::unauthenticated("Invalid device token")),
        }
    }
}

/// Looks up an active API token from the bearer header (a read) and records its use.
async fn api_token(parts: &Parts, st: &AppState) -> Result<Option<ApiToken>, ApiError> {
    let Some(token) = bearer(parts).map(str::to_string) else {
        return Ok(None);
    };
    let found = st
        .db
        .call(move |c| {
            let found = dbm::tokens::find_active_by_hash(c, &tokens::hash(&token))?;
            Ok(found.filter(|(_, stored)| tokens::matches(&token, stored)))
        })
        .await?;
    let (row, _) = found.ok_or_else(|| ApiError::unauthenticated("Invalid API token"))?;
    record_use(st, row.id);
    Ok(Some(row))
}

/// Writes a token's `last_used_at` in the background, at most once a minute per token: the
/// request neither waits for the write nor fails with it.
fn record_use(st: &AppState, id: crate::ids::TokenId) {
    if !st.token_use.due(id, std::time::Instant::now()) {
        return;
    }
    let db = st.db.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = db.write(|tx| dbm::tokens::touch(tx, id)) {
            tracing::warn!(error = %e, token = id.0, "cannot record the token's use");
        }
    });
}

fn require(role: Role, token: ApiToken) -> Result<ApiToken, ApiError> {
    if token.role == role {
        Ok(token)
    } else {
        Err(ApiError::forbidden(format!(
            "Insufficient permissions - requires one of: {}",
            role.as_str()
        )))
    }
}

impl FromRequestParts<AppState> for PipelineAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let token = api_token(parts, st)
            .await?
            .ok_or_else(|| ApiError::unauthenticated(NO_TOKEN))?;
        require(Role::Pipeline, token).map(PipelineAuth)
    }
}

/// The dashboard session named by the request's cookie, if valid.
pub async fn session(parts: &Parts, st: &AppState) -> Result<Option<Session>, ApiError> {
    let Some(value) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string) else {
        return Ok(None);
    };
    Ok(st
        .db
        .call(move |c| sessions::find_valid(c, &tokens::hash(&value)))
        .await?)
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(token) = api_token(parts, st).await? {
            return require(Role::Admin, token).map(AdminAuth::Token);
        }
        let s = session(parts, st)
            .await?
            .ok_or_else(|| ApiError::unauthenticated("Authentication is required"))?;
        if s.must_change_password {
            return Err(ApiError::forbidden(
                "Change the generated password first (/account/password)",
            ));
        }
        let safe = matches!(parts.method, Method::GET | Method::HEAD);
        let csrf_ok = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| tokens::matches(v, &tokens::hash(&s.csrf_token)));
        if !safe && !csrf_ok {
            return Err(ApiError::forbidden("Missing or invalid CSRF token"));
        }
        Ok(AdminAuth::Session(s))
    }
}

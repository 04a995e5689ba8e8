//! Who may see a page: [`AdminPage`] requires a valid dashboard session (else a redirect to
//! the login page), and sends a first-run admin to the change-password page until the password
//! is changed. [`AdminForm`] additionally reads an urlencoded form and checks its `csrf` field
//! against the session's token. [`LoginThrottle`] slows down and then blocks repeated failed
//! sign-ins for a user name.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::PageError;
use super::layout::see_other;
use crate::auth::tokens;
use crate::db::sessions::Session;
use crate::web::auth::session;
use crate::web::state::AppState;

/// The page that a first-run admin must pass through.
pub const PASSWORD_PAGE: &str = "/account/password";

/// A signed-in dashboard user.
pub struct AdminPage(pub Session);

/// Where to come back to after signing in: only local absolute paths.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

impl FromRequestParts<AppState> for AdminPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let found = session(parts, st)
            .await
            .map_err(|e| PageError::internal(e.message).into_response())?;
        let Some(s) = found else {
            let here = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let to = if parts.method == Method::GET && here != "/" {
                format!("/login?next={}", urlencode(here))
            } else {
                "/login".to_string()
            };
            return Err(see_other(&to));
        };
        if s.must_change_password && parts.uri.path() != PASSWORD_PAGE {
            return Err(see_other(PASSWORD_PAGE));
        }
        Ok(AdminPage(s))
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|v| v.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

/// A signed-in user's urlencoded form whose `csrf` field matched the session's token.
pub struct AdminForm<T> {
    /// The signed-in user's session.
    pub session: Session,
    /// The decoded form.
    pub form: T,
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Checks a submitted CSRF token against the session's, in constant time.
pub fn check_csrf(session: &Session, submitted: &str) -> Result<(), PageError> {
    if !submitted.is_empty() && tokens::matches(submitted, &tokens::hash(&session.csrf_token)) {
        Ok(())
    } else {
        Err(PageError::new(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this dashboard. Go back, reload the page and try again.",
        ))
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for AdminForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let AdminPage(session) = AdminPage::from_request_parts(&mut parts, st).await?;
        let req = Request::from_parts(parts, body);
        let bytes = axum::body::Bytes::from_request(req, st)
            .await
            .map_err(|e| PageError::bad_request(e.body_text()).into_response())?;
        let field: CsrfField = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| PageError::bad_request("The form could not be read.").into_response())?;
        check_csrf(&session, &field.csrf).map_err(IntoResponse::into_response)?;
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            PageError::bad_request(format!("The form could not be read: {e}")).into_response()
        })?;
        Ok(AdminForm { session, form })
    }
}

/// A form with nothing but the CSRF token and the optional confirmation.
#[derive(Deserialize)]
pub struct Confirm {
    /// `yes` when the user already confirmed (a JavaScript prompt); otherwise a confirmation page
    /// is shown first.
    #[serde(default)]
    pub confirm: String,
}

impl Confirm {
    /// Whether the form says `confirm=yes`.
    pub fn confirmed(&self) -> bool {
        self.confirm == "yes"
    }
}

/// Failed sign-ins per user name: every failure is answered after [`LoginThrottle::DELAY`],
/// and after [`LoginThrottle::MAX_FAILURES`] failures within [`LoginThrottle::WINDOW`] the
/// name is locked until the window ends (the password is not even checked).
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    /// How long a failed sign-in waits before it is answered.
    pub const DELAY: Duration = Duration::from_millis(700);
    /// Failures within [`LoginThrottle::WINDOW`] after which a user name is locked.
    pub const MAX_FAILURES: u32 = 5;
    /// How long failures are remembered, and how long a locked name stays locked.
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);
    /// Bound on remembered names, so random names cannot grow the map without limit.
    const MAX_ENTRIES: usize = 10_000;

    fn key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    /// `Some(wait)` when the name is locked.
    pub fn locked(&self, username: &str) -> Option<Duration> {
        let map = self.failures.lock().ok()?;
        let (count, since) = map.get(&Self::key(username))?;
        let elapsed = since.elapsed();
        (*count >= Self::MAX_FAILURES && elapsed < Self::WINDOW).then(|| Self::WINDOW - elapsed)
    }

    /// Records a failed sign-in for `username` (case and surrounding spaces ignored).
    pub fn failed(&self, username: &str) {
        if let Ok(mut map) = self.failures.lock() {
            if map.len() >= Self::MAX_ENTRIES {
                map.retain(|_, (_, since)| since.elapsed() < Self::WINDOW);
                if map.len() >= Self::MAX_ENTRIES {
                    map.clear();
                }
            }
            let entry = map
                .entry(Self::key(username))
                .or_insert((0, Instant::now()));
            if entry.1.elapsed() >= Self::WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }

    /// Forgets the failures of `username` after a successful sign-in.
    pub fn succeeded(&self, username: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&Self::key(username));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_local_only() {
        assert_eq!(safe_next(Some("/devices?page=2")), "/devices?page=2");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        assert_eq!(
            urlencode("/devices?q=a b&page=2"),
            "%2Fdevices%3Fq%3Da+b%26page%3D2"
        );
    }

    #[test]
    fn throttle_locks_after_max_failures() {
        let t = LoginThrottle::default();
        for _ in 0..LoginThrottle::MAX_FAILURES - 1 {
            t.failed("Admin");
        }
        assert!(t.locked("admin").is_none());
        t.failed("admin ");
        assert!(t.locked("admin").is_some());
        t.succeeded("admin");
        assert!(t.locked("admin").is_none());
    }
}

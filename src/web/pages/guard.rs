//! Who may see a page: [`AdminPage`] requires a valid dashboard session (else a redirect to
//! the login page), and sends a first-run admin to the change-password page until the password
//! is changed. [`AdminForm`] additionally reads an urlencoded form and checks its `csrf` field
//! against the session's token. Failed sign-ins are counted by `auth::lockout`.

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

/// Where to come back to after signing in: only a path on this site, else `/`.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if is_local_path(n) => n,
        _ => "/",
    }
}

/// Whether a browser following a redirect to `n` stays on this site. Browsers drop tabs and
/// line breaks anywhere in a URL, strip leading spaces and control characters, and read `\` as
/// `/`; so `/\evil.example`, `/\t/evil.example` or ` //evil.example` all lead elsewhere. Only an
/// absolute path (`/` then anything but `/` or `\`) without any backslash, whitespace or
/// control character is accepted.
fn is_local_path(n: &str) -> bool {
    n.len() <= 2048
        && n.starts_with('/')
        && !n.starts_with("//")
        && !n
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_local_only() {
        assert_eq!(safe_next(Some("/devices?page=2")), "/devices?page=2");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        for bad in [
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            " //evil.example",
            "\\\\evil.example",
            "/%09/ok-but-\u{7f}",
            "/\u{2028}/x",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(Some("/%2F%2Fstays-here")), "/%2F%2Fstays-here");
        assert_eq!(
            urlencode("/devices?q=a b&page=2"),
            "%2Fdevices%3Fq%3Da+b%26page%3D2"
        );
    }
}

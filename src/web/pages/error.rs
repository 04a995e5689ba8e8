//! How a dashboard page fails: an HTML error page with the status, a short human message and a
//! way back (the navigation, when someone is signed in: [`with_navigation`]). Internal causes are logged, never shown (the same rule as the JSON API).

use askama::Template;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::db::sessions::Session;
use crate::error::Error;
use crate::web::state::AppState;

/// A failed page: rendered as the HTML error page with this status and message.
#[derive(Debug)]
pub struct PageError {
    /// The HTTP status answered.
    pub status: StatusCode,
    /// The message shown to the user (never an internal cause).
    pub message: String,
}

/// The result type of page handlers.
pub type PageResult<T = Response> = Result<T, PageError>;

impl PageError {
    /// An error page with any status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
        }
    }
    /// A 404 page.
    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::NOT_FOUND, message)
    }
    /// A 400 page.
    pub fn bad_request(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::BAD_REQUEST, message)
    }
    /// A 500 page with a generic message; `cause` is logged, never shown.
    pub fn internal(cause: impl std::fmt::Display) -> PageError {
        tracing::error!(error = %cause, "dashboard: internal error");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on the server. The details are in its log.",
        )
    }
}

impl From<Error> for PageError {
    fn from(e: Error) -> PageError {
        match e {
            Error::Validation(m) | Error::InvalidOperation(m) => PageError::bad_request(m),
            Error::Unauthenticated(m) => PageError::new(StatusCode::UNAUTHORIZED, m),
            Error::Forbidden(m) => PageError::new(StatusCode::FORBIDDEN, m),
            Error::NotFound(m) => PageError::not_found(m),
            Error::Exists(m) => PageError::new(StatusCode::CONFLICT, m),
            Error::TooLarge(m) => PageError::new(StatusCode::PAYLOAD_TOO_LARGE, m),
            Error::Unavailable(m) => PageError::new(StatusCode::SERVICE_UNAVAILABLE, m),
            other if other.is_transient() => {
                tracing::warn!(error = %other, "dashboard: busy, answered 503");
                PageError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The server is busy. Try again in a few seconds.",
                )
            }
            other => PageError::internal(other),
        }
    }
}

impl From<crate::db::DbError> for PageError {
    fn from(e: crate::db::DbError) -> PageError {
        Error::Db(e).into()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    c: super::layout::Chrome,
    status: u16,
    reason: &'a str,
    message: &'a str,
}

/// What an error page showed, kept on the response so that [`with_navigation`] can render it
/// again inside the signed-in frame.
#[derive(Clone, Debug)]
struct Shown(StatusCode, String);

fn render_page(status: StatusCode, message: &str, session: Option<&Session>) -> Response {
    let c = match session {
        Some(s) => super::layout::Chrome::new("Error", s, super::layout::Nav::None),
        None => super::layout::Chrome::anonymous("Error"),
    };
    let page = ErrorPage {
        c,
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("Error"),
        message,
    };
    let mut resp = match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "dashboard: cannot render the error page");
            (status, message.to_string()).into_response()
        }
    };
    resp.extensions_mut()
        .insert(Shown(status, message.to_string()));
    crate::web::error::with_retry_after(resp)
}

/// Middleware: an error page answered to a signed-in user keeps the dashboard's navigation
/// (the page is rendered again in the signed-in frame; handlers fail without knowing who is
/// signed in). Costs a session lookup on error pages only.
pub async fn with_navigation(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers().clone();
    let resp = next.run(req).await;
    let Some(Shown(status, message)) = resp.extensions().get::<Shown>().cloned() else {
        return resp;
    };
    let mut parts = axum::http::Request::new(()).into_parts().0;
    parts.headers = headers;
    match crate::web::auth::session(&parts, &st).await {
        Ok(Some(s)) if !s.must_change_password => render_page(status, &message, Some(&s)),
        _ => resp,
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        render_page(self.status, &self.message, None)
    }
}
